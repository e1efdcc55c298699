package webhookverify

import (
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAcceptVsSync sends signed 1 KiB GitHub deliveries from 64
// concurrent senders through a real (in-process) Caddy: "sync" is
// webhook_verify + reverse_proxy to an app, "durable" is webhook_verify
// with deliver (journaled, fsync'd with group commit, acknowledged 202,
// then delivered by the workers to the same kind of app). It reports
// acknowledged deliveries per second and the p99 time to the answer.
func BenchmarkAcceptVsSync(b *testing.B) {
	b.Setenv("WV_GH", ghSecret)
	payload := `{"ref":"refs/heads/main","padding":"` + strings.Repeat("x", 1000) + `"}`
	for _, mode := range []string{"sync", "durable"} {
		b.Run(mode, func(b *testing.B) {
			app := newUpstream(b)
			site := `
	:9080 {
		webhook_verify /github github {
			secret {env.WV_GH}
			` + map[string]string{"sync": "", "durable": "deliver {\n\t\t\t\tto " + app.URL + "/hooks\n\t\t\t}"}[mode] + `
		}
		reverse_proxy {upstream}
	}`
			startCaddyWith(b, app, "webhook {\n\tstorage bolt "+filepath.Join(b.TempDir(), "bench.db")+"\n}", site)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			sig := "sha256=" + hmacHex([]byte(ghSecret), []byte(payload))
			var mu sync.Mutex
			var latencies []time.Duration
			var failed atomic.Int64
			b.SetParallelism(32) // 64 senders on 2 CPUs
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, "http://"+caddyAddr+"/github", strings.NewReader(payload))
					req.Header.Set("X-Hub-Signature-256", sig)
					req.Header.Set("X-GitHub-Event", "push")
					t0 := time.Now()
					resp, err := client.Do(req)
					if err != nil || resp.StatusCode >= 300 {
						failed.Add(1)
						if resp != nil {
							resp.Body.Close()
						}
						continue
					}
					resp.Body.Close()
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				latencies = append(latencies, mine...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d deliveries failed", n)
			}
			slices.Sort(latencies)
			b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "acks/s")
			if len(latencies) > 0 {
				b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
			}
			if mode == "durable" {
				// the workers keep up: everything acknowledged arrives
				want := len(latencies)
				deadline := time.Now().Add(30 * time.Second)
				for app.count() < want && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if app.count() < want {
					b.Fatalf("the app got %d of %d deliveries", app.count(), want)
				}
			}
		})
	}
}
