// Command app is the tiny application the example gateway protects: it
// prints every delivery that reaches it and answers 200. Its /ci endpoint
// is the classic "CI triggered by a verified webhook": for a GitHub push,
// it prints which repository and branch it would build.
package main

import (
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"strings"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	flag.Parse()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "reading body", http.StatusBadRequest)
			return
		}
		log.Printf("app: %s %s provider=%q id=%q event=%q attempt=%q body=%dB %.80q",
			r.Method, r.URL.Path, r.Header.Get("X-Webhook-Provider"), deliveryID(r),
			r.Header.Get("X-Webhook-Event"), r.Header.Get("X-Webhook-Attempt"), len(body), body)
		w.Write([]byte("delivered to the app\n"))
	})
	http.HandleFunc("/ci", func(w http.ResponseWriter, r *http.Request) {
		var push struct {
			Ref        string `json:"ref"`
			Repository struct {
				FullName string `json:"full_name"`
			} `json:"repository"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 10<<20)).Decode(&push); err != nil {
			http.Error(w, "not a GitHub push", http.StatusBadRequest)
			return
		}
		branch := strings.TrimPrefix(push.Ref, "refs/heads/")
		log.Printf("ci: would build %s at %s (delivery %s)", orUnknown(push.Repository.FullName), orUnknown(branch), deliveryID(r))
		w.Write([]byte("build queued\n"))
	})
	log.Printf("app: listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}

// deliveryID is the gateway's id for the delivery: Webhook-Id from a
// durable route, X-Webhook-Id from header_up on a synchronous one.
func deliveryID(r *http.Request) string {
	if id := r.Header.Get("Webhook-Id"); id != "" {
		return id
	}
	return r.Header.Get("X-Webhook-Id")
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
