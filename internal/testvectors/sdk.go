package testvectors

import (
	_ "embed"
	"encoding/json"
	"time"
)

// sdkVectors are deliveries signed by the providers' own npm packages (or,
// where a package only verifies, signed with node:crypto and accepted by
// it), made by testdata/gen-sdk-vectors.js, which names each package and
// version and checks every vector with the package before writing it.
//
//go:embed testdata/sdk-vectors.json
var sdkVectors []byte

type sdkVector struct {
	Provider   string            `json:"provider"`
	Package    string            `json:"package"`
	Function   string            `json:"function"`
	Secrets    []string          `json:"secrets"`
	PublicKeys []string          `json:"publicKeys"`
	Now        int64             `json:"now"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// SDK returns the npm-generated vectors as cases, valid at their time.
func SDK() []Case {
	var vs []sdkVector
	if err := json.Unmarshal(sdkVectors, &vs); err != nil {
		panic("testvectors: sdk-vectors.json: " + err.Error())
	}
	var out []Case
	for _, v := range vs {
		u := v.URL
		if u == "" {
			u = "https://hooks.example.com/hook"
		}
		h := hdr()
		for k, val := range v.Headers {
			h.Set(k, val)
		}
		out = append(out, Case{Provider: v.Provider, Source: v.Package + " " + v.Function, Secrets: v.Secrets, PublicKeys: v.PublicKeys,
			Now: time.UnixMilli(v.Now), Method: "POST", URL: u, Header: h, Body: []byte(v.Body)})
	}
	return out
}
