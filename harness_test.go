package webhookverify

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
)

// The integration tests share one in-process Caddy (caddytest's), so they
// never run in parallel. Its ports are picked free once per test process, so
// test runs in several checkouts on one machine do not meet; configs are
// written with the conventional 2999 (admin), 9080 and 9443 and rewritten
// by withTestPorts. Caddy serves plain HTTP on caddyAddr.
var (
	adminPort = freePort()
	httpPort  = freePort()
	httpsPort = freePort()
	caddyAddr = fmt.Sprintf("127.0.0.1:%d", httpPort)
	adminURL  = fmt.Sprintf("http://localhost:%d", adminPort)
)

// freePort asks the kernel for a port nobody listens on.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// withTestPorts rewrites a test config's conventional ports to this
// process's.
func withTestPorts(config string) string {
	return strings.NewReplacer(
		"localhost:2999", fmt.Sprintf("localhost:%d", adminPort),
		":9080", fmt.Sprintf(":%d", httpPort),
		"http_port 9080", fmt.Sprintf("http_port %d", httpPort),
		"https_port 9443", fmt.Sprintf("https_port %d", httpsPort),
	).Replace(config)
}

// newTester is caddytest's tester, on this process's admin port.
func newTester(t testing.TB) *caddytest.Tester {
	return caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: adminPort})
}

// assertLoadError loads a Caddyfile that must fail, with an error
// containing want.
func assertLoadError(t *testing.T, config, want string) {
	t.Helper()
	newTester(t) // makes sure the shared Caddy runs
	resp, err := http.Post(adminURL+"/load", "text/caddyfile", strings.NewReader(withTestPorts(config)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK || !strings.Contains(string(body), want) {
		t.Errorf("loading the config: status %d, %s; want an error containing %q", resp.StatusCode, body, want)
	}
}

func caddyfileAdapter() caddyconfig.Adapter { return caddyconfig.GetAdapter("caddyfile") }

// received is one request as the app behind Caddy saw it.
type received struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// upstream is the app behind Caddy: a real HTTP server that records what
// reaches it and answers with respond (200 "app ok" by default).
type upstream struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	respond func(w http.ResponseWriter, r *http.Request, n int)
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.got = append(u.got, received{r.Method, r.URL.Path, r.Header.Clone(), body})
		n := len(u.got)
		respond := u.respond
		u.mu.Unlock()
		if respond != nil {
			respond(w, r, n)
			return
		}
		w.Header().Set("X-App", "yes")
		io.WriteString(w, "app ok")
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]received(nil), u.got...)
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.got)
}

func (u *upstream) hostport() string { return strings.TrimPrefix(u.URL, "http://") }

// startCaddy loads a Caddyfile made of the test globals and sites into the
// shared Caddy. Every "{upstream}" in sites is replaced by up's address.
// It returns the path of the JSON log file Caddy writes to.
func startCaddy(t testing.TB, up *upstream, sites string) (*caddytest.Tester, string) {
	t.Helper()
	return startCaddyWith(t, up, "", sites)
}

// startCaddyWith is startCaddy with more global options.
func startCaddyWith(t testing.TB, up *upstream, globals, sites string) (*caddytest.Tester, string) {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	if up != nil {
		sites = strings.ReplaceAll(sites, "{upstream}", up.hostport())
	}
	tester := newTester(t)
	tester.InitServer(withTestPorts(fmt.Sprintf(`{
		admin localhost:2999
		http_port 9080
		https_port 9443
		grace_period 1ns
		auto_https off
		log {
			output file %s
			format json
			level INFO
		}
		%s
	}
	%s`, logFile, globals, sites)), "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	// The old config's servers closed their connections; a kept-alive one
	// still in the client's pool would fail the next POST with EOF.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	return tester, logFile
}

// post sends a POST through Caddy and returns the status, headers and body.
func post(t *testing.T, path string, header http.Header, body []byte) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+caddyAddr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, http.Header, string) {
	t.Helper()
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// rawRequest writes raw bytes to Caddy, waits pause, writes more, and
// returns the status line of the answer.
func rawRequest(t *testing.T, first string, pause time.Duration, rest string) string {
	t.Helper()
	conn, err := net.Dial("tcp", caddyAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(pause)
	io.WriteString(conn, rest) // the server may have answered and closed already
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the status line: %v", err)
	}
	return strings.TrimSpace(line)
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func lookupEnv(name string) (string, bool) { return os.LookupEnv(name) }
