package webhookverify

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

func rateSite(block string) string {
	return `
	:9080 {
		webhook_verify /github github {
			secret {env.WV_GH}
			` + block + `
		}
		reverse_proxy {upstream}
	}`
}

// rate_limit 5/1m lets exactly 5 of 12 quick deliveries through; the rest
// get 429 with a truthful Retry-After. Forged requests spend nothing.
func TestRateLimitReject(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	uniqueZone(t)
	up := newUpstream(t)
	startCaddy(t, up, rateSite(`rate_limit 5/1m {
				zone {env.WV_ZONE}
			}`))

	forged := h("X-Hub-Signature-256", "sha256="+hmacHex([]byte("guess"), []byte(ghBody)))
	for range 20 {
		if status, _, _ := post(t, "/github", forged, []byte(ghBody)); status != 401 {
			t.Fatalf("forged: %d", status)
		}
	}
	var passed, limited int
	for i := range 12 {
		status, header, _ := post(t, "/github", githubDelivery("rl-"+strconv.Itoa(i)), []byte(ghBody))
		switch status {
		case 200:
			passed++
		case 429:
			limited++
			// the next token is 12s away (one every 12s at 5/1m)
			ra, err := strconv.Atoi(header.Get("Retry-After"))
			if err != nil || ra < 1 || ra > 12 {
				t.Errorf("Retry-After %q, want whole seconds up to 12", header.Get("Retry-After"))
			}
		default:
			t.Fatalf("delivery %d: %d", i, status)
		}
	}
	if passed != 5 || limited != 7 || up.count() != 5 {
		t.Fatalf("%d passed, %d limited, app saw %d; want 5, 7, 5", passed, limited, up.count())
	}

	// A reload with the same rate keeps the buckets: still limited.
	startCaddy(t, up, rateSite(`rate_limit 5/1m {
				zone {env.WV_ZONE}
			}
			max_body 2MiB`))
	if status, _, _ := post(t, "/github", githubDelivery("rl-after-reload"), []byte(ghBody)); status != 429 {
		t.Fatalf("after reload: %d, want 429 (buckets kept)", status)
	}
}

// Buckets are per key: each shop gets its own budget.
func TestRateLimitKeyed(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	uniqueZone(t)
	up := newUpstream(t)
	startCaddy(t, up, rateSite(`rate_limit 2/1h {
				key {http.request.header.X-Shop}
				zone {env.WV_ZONE}
			}`))
	for _, shop := range []string{"a", "b"} {
		for i := range 3 {
			header := githubDelivery("k-" + shop + strconv.Itoa(i))
			header.Set("X-Shop", shop)
			status, _, _ := post(t, "/github", header, []byte(ghBody))
			if want := map[bool]int{true: 200, false: 429}[i < 2]; status != want {
				t.Fatalf("shop %s delivery %d: %d, want %d", shop, i, status, want)
			}
		}
	}
}

// mode wait smooths a burst instead of rejecting it.
func TestRateLimitWaitSmooths(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	uniqueZone(t)
	up := newUpstream(t)
	var mu sync.Mutex
	var arrivals []time.Time
	up.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
	}
	startCaddy(t, up, rateSite(`rate_limit 10/1s burst 1 {
				mode wait
				max_wait 5s
				zone {env.WV_ZONE}
			}`))
	var wg sync.WaitGroup
	statuses := make([]int, 6)
	for i := range statuses {
		wg.Go(func() {
			statuses[i], _, _ = post(t, "/github", githubDelivery("w-"+strconv.Itoa(i)), []byte(ghBody))
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Fatalf("delivery %d: %d, want every one delivered", i, s)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	first, last := arrivals[0], arrivals[0]
	for _, a := range arrivals {
		if a.Before(first) {
			first = a
		}
		if a.After(last) {
			last = a
		}
	}
	// six deliveries at 10/s with burst 1 take at least 0.5s to pass
	if span := last.Sub(first); span < 450*time.Millisecond {
		t.Fatalf("six deliveries reached the app within %s; not paced", span)
	}
}

// max_concurrent caps what is in flight to the app.
func TestRateLimitMaxConcurrent(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	uniqueZone(t)
	up := newUpstream(t)
	up.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(400 * time.Millisecond)
	}
	startCaddy(t, up, rateSite(`rate_limit 100/1s {
				max_concurrent 1
				zone {env.WV_ZONE}
			}`))
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range statuses {
		wg.Go(func() {
			if i == 1 {
				time.Sleep(100 * time.Millisecond)
			}
			statuses[i], _, _ = post(t, "/github", githubDelivery("c-"+strconv.Itoa(i)), []byte(ghBody))
		})
	}
	wg.Wait()
	if statuses[0] != 200 || statuses[1] != 429 || up.count() != 1 {
		t.Fatalf("statuses %v, app saw %d; want [200 429] and 1", statuses, up.count())
	}
}
