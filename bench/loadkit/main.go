// Command loadkit supports bench/load.sh: it runs the upstream app the load
// is proxied to, and writes the wrk script that sends signed deliveries.
//
//	loadkit -upstream 127.0.0.1:18090
//	loadkit -lua deliveries.lua -secret S -size 1024
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
)

func main() {
	upstream := flag.String("upstream", "", "run the upstream app on this address")
	lua := flag.String("lua", "", "write a wrk script to this file")
	secret := flag.String("secret", "", "the GitHub webhook secret to sign with")
	size := flag.Int("size", 1024, "body size in bytes")
	flag.Parse()

	switch {
	case *upstream != "":
		log.Fatal(http.ListenAndServe(*upstream, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Write([]byte("ok"))
		})))
	case *lua != "":
		body := `{"action":"opened","pad":"` + strings.Repeat("x", max(0, *size-29)) + `"}`
		m := hmac.New(sha256.New, []byte(*secret))
		m.Write([]byte(body))
		script := fmt.Sprintf(`wrk.method = "POST"
wrk.body = %q
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "pull_request"
wrk.headers["X-GitHub-Delivery"] = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
wrk.headers["X-Hub-Signature-256"] = "sha256=%s"
`, body, hex.EncodeToString(m.Sum(nil)))
		if err := os.WriteFile(*lua, []byte(script), 0o644); err != nil {
			log.Fatal(err)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}
