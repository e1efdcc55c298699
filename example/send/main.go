// Command send signs a test delivery the way a provider would and posts it
// to the example gateway. It signs with the standard library only, apart
// from the module under test.
//
//	go run ./example/send -provider github
//	go run ./example/send -provider stripe -tamper
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	provider := flag.String("provider", "github", "github, stripe or gitlab")
	url := flag.String("url", "", "where to send (default: the example gateway's route for the provider)")
	secret := flag.String("secret", "", "the secret (default: the example's)")
	body := flag.String("body", `{"zen":"Keep it logically awesome."}`, "the body to send")
	tamper := flag.Bool("tamper", false, "change the body after signing: the gateway must answer 401")
	flag.Parse()

	id := randomID()
	req, err := http.NewRequest(http.MethodPost, "", nil)
	if err != nil {
		fail(err)
	}
	req.Header.Set("Content-Type", "application/json")
	payload := []byte(*body)
	switch *provider {
	case "github":
		def(url, "http://localhost:8080/github/push")
		def(secret, envOr("GITHUB_WEBHOOK_SECRET", "example-github-secret"))
		req.Header.Set("X-GitHub-Delivery", id)
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", "sha256="+mac(*secret, payload))
	case "stripe":
		def(url, "http://localhost:8080/stripe")
		def(secret, envOr("STRIPE_WEBHOOK_SECRET", "whsec_example_stripe_secret"))
		payload = []byte(`{"id":"evt_` + id[:12] + `","object":"event","type":"charge.succeeded"}`)
		t := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set("Stripe-Signature", "t="+t+",v1="+mac(*secret, []byte(t+"."+string(payload))))
	case "gitlab":
		def(url, "http://localhost:8080/gitlab")
		def(secret, envOr("GITLAB_WEBHOOK_TOKEN", "example-gitlab-token"))
		req.Header.Set("X-Gitlab-Token", *secret)
		req.Header.Set("X-Gitlab-Event", "Push Hook")
		req.Header.Set("X-Gitlab-Event-UUID", id)
	default:
		fail(fmt.Errorf("unknown provider %q", *provider))
	}
	if *tamper {
		payload = append(payload, ' ')
	}
	req.URL, err = req.URL.Parse(*url)
	if err != nil {
		fail(err)
	}
	req.Body = io.NopCloser(bytes.NewReader(payload))
	req.ContentLength = int64(len(payload))

	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%s delivery %s -> %s: %s %s\n", *provider, id, *url, resp.Status, bytes.TrimSpace(answer))
}

func mac(secret string, msg []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func def(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "send:", err)
	os.Exit(1)
}
