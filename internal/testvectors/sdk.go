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

// sdkVectorsNgrok are the same, for the presets that complete ngrok's
// list, made by testdata/gen-sdk-vectors-ngrok.js.
//
//go:embed testdata/sdk-vectors-ngrok.json
var sdkVectorsNgrok []byte

type sdkVector struct {
	Provider   string            `json:"provider"`
	Package    string            `json:"package"`
	Function   string            `json:"function"`
	Secrets    []string          `json:"secrets"`
	PublicKeys []string          `json:"publicKeys"`
	Now        int64             `json:"now"`
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// SDK returns the npm-generated vectors as cases, valid at their time.
func SDK() []Case {
	var vs []sdkVector
	for _, f := range []struct {
		name string
		data []byte
	}{{"sdk-vectors.json", sdkVectors}, {"sdk-vectors-ngrok.json", sdkVectorsNgrok}} {
		var more []sdkVector
		if err := json.Unmarshal(f.data, &more); err != nil {
			panic("testvectors: " + f.name + ": " + err.Error())
		}
		vs = append(vs, more...)
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
		method := v.Method
		if method == "" {
			method = "POST"
		}
		out = append(out, Case{Provider: v.Provider, Source: v.Package + " " + v.Function, Secrets: v.Secrets, PublicKeys: v.PublicKeys,
			Now: time.UnixMilli(v.Now), Method: method, URL: u, Header: h, Body: []byte(v.Body)})
	}
	return out
}
