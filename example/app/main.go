// Command app is the tiny application the example gateway protects: it
// prints every delivery that reaches it and answers 200.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
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
		log.Printf("app: %s %s provider=%q id=%q event=%q body=%dB %.80q",
			r.Method, r.URL.Path, r.Header.Get("X-Webhook-Provider"), r.Header.Get("X-Webhook-Id"),
			r.Header.Get("X-Webhook-Event"), len(body), body)
		w.Write([]byte("delivered to the app\n"))
	})
	log.Printf("app: listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
