package webhookverify

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// caddyBinary builds ./cmd/caddy (Caddy with this module) once per test
// process, with -race when the tests have it, so it shares their build
// cache.
var caddyBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "wv-caddy-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "caddy")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "./cmd/caddy")...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/caddy: %v\n%s", err, out)
	}
	return bin, nil
})

// caddyProcess is a real Caddy process with this module, for tests that
// kill it or reload it.
type caddyProcess struct {
	t       *testing.T
	cmd     *exec.Cmd
	dir     string
	admin   string // host:port
	addr    string // host:port of the site
	logFile string
	done    chan struct{}
}

// startCaddyProcess runs Caddy on a Caddyfile made of globals and a site
// block body, on free ports, in dir (its data and config directories too).
func startCaddyProcess(t *testing.T, dir, globals, site string) *caddyProcess {
	t.Helper()
	bin, err := caddyBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := &caddyProcess{t: t, dir: dir, admin: fmt.Sprintf("127.0.0.1:%d", freePort()), addr: fmt.Sprintf("127.0.0.1:%d", freePort())}
	p.start(bin, globals, site)
	return p
}

func (p *caddyProcess) caddyfile(globals, site string) string {
	return fmt.Sprintf("{\n\tadmin %s\n\tgrace_period 2s\n\tauto_https off\n\t%s\n}\nhttp://%s {\n%s\n}\n", p.admin, globals, p.addr, site)
}

func (p *caddyProcess) start(bin, globals, site string) {
	t := p.t
	config := filepath.Join(p.dir, "Caddyfile")
	if err := os.WriteFile(config, []byte(p.caddyfile(globals, site)), 0o600); err != nil {
		t.Fatal(err)
	}
	p.logFile = filepath.Join(p.dir, fmt.Sprintf("caddy-%d.log", time.Now().UnixNano()))
	logOut, err := os.Create(p.logFile)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, "run", "--config", config, "--adapter", "caddyfile")
	p.cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(p.dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(p.dir, "config"))
	p.cmd.Stdout, p.cmd.Stderr = logOut, logOut
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func() {
		p.cmd.Wait()
		logOut.Close()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	waitFor(t, "Caddy to listen", 60*time.Second, func() bool {
		select {
		case <-p.done:
			log, _ := os.ReadFile(p.logFile)
			t.Fatalf("Caddy exited:\n%s", log)
		default:
		}
		c, err := net.Dial("tcp", p.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// restart starts Caddy again with the same Caddyfile.
func (p *caddyProcess) restart(globals, site string) {
	bin, _ := caddyBinary()
	p.start(bin, globals, site)
}

// kill sends SIGKILL: no cleanup, no flush, as a crash.
func (p *caddyProcess) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// reload loads a new Caddyfile through the admin API, as `caddy reload` does.
func (p *caddyProcess) reload(globals, site string) error {
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.admin+"/load", strings.NewReader(p.caddyfile(globals, site)))
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reload: %s", resp.Status)
	}
	return nil
}

// destination is an app that records every Webhook-Id it receives; it can
// be started late, on a port reserved beforehand.
type destination struct {
	addr string
	srv  *http.Server
	mu   sync.Mutex
	ids  map[string]int
}

func newDestination(t *testing.T) *destination {
	d := &destination{addr: fmt.Sprintf("127.0.0.1:%d", freePort()), ids: map[string]int{}}
	t.Cleanup(func() {
		if d.srv != nil {
			d.srv.Close()
		}
	})
	return d
}

func (d *destination) up(t *testing.T) {
	l, err := net.Listen("tcp", d.addr)
	if err != nil {
		t.Fatal(err)
	}
	d.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.ids[r.Header.Get("Webhook-Id")]++
		d.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})}
	go d.srv.Serve(l)
}

// got reports how many of ids arrived, and how many arrived more than once.
func (d *destination) got(ids []string) (arrived, twice int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		if n := d.ids[id]; n > 0 {
			arrived++
			if n > 1 {
				twice++
			}
		}
	}
	return arrived, twice
}

// load sends signed GitHub deliveries with distinct bodies from eight
// senders, through Caddy's crashes and restarts, until finish.
type load struct {
	acked chan string
	stop  chan struct{}
	sent  chan struct{}
}

func startLoad(t *testing.T, addr string) *load {
	l := &load{acked: make(chan string, 100000), stop: make(chan struct{}), sent: make(chan struct{})}
	go func() {
		sendUntil(t, addr, 8, l.stop, l.acked)
		close(l.sent)
	}()
	return l
}

// acknowledged is how many deliveries Caddy has acknowledged so far.
func (l *load) acknowledged() int { return len(l.acked) }

// finish stops the senders and returns the ids of the acknowledged
// deliveries.
func (l *load) finish() []string {
	close(l.stop)
	<-l.sent
	close(l.acked)
	var ids []string
	for id := range l.acked {
		ids = append(ids, id)
	}
	return ids
}

// sendUntil sends signed GitHub deliveries with distinct bodies from
// several senders until stop closes, and sends the id of each one Caddy
// acknowledges to acked; while Caddy is down it keeps trying.
func sendUntil(t *testing.T, addr string, senders int, stop <-chan struct{}, acked chan<- string) {
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := `{"ref":"refs/heads/main","sender":` + strconv.Itoa(s) + `,"n":` + strconv.Itoa(i) + `}`
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+addr+"/github", strings.NewReader(body))
				req.Header.Set("X-Hub-Signature-256", "sha256="+hmacHex([]byte(ghSecret), []byte(body)))
				req.Header.Set("X-GitHub-Event", "push")
				resp, err := client.Do(req)
				if err != nil {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond): // Caddy is down or restarting
						continue
					}
				}
				var ack struct{ ID string }
				decodeJSON(resp, &ack)
				if resp.StatusCode == http.StatusAccepted && ack.ID != "" {
					acked <- ack.ID
				}
			}
		}()
	}
	wg.Wait()
}
