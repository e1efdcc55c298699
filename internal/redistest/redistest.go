// Package redistest runs a real redis-server for a test: its own process,
// on a free port, with its data in the test's temp dir, killed when the
// test ends. There are no mocks: a test that needs Redis and finds no
// redis-server fails (CI installs the Debian package), it never skips.
package redistest

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure a server.
type Options struct {
	// AppendOnly turns the AOF on, by default with appendfsync always:
	// every write is on disk before Redis answers it.
	AppendOnly bool
	// Fsync is the appendfsync policy: always (the default), everysec or
	// no.
	Fsync string
	// Password sets requirepass (the default user's password).
	Password string
	// cluster starts the server in cluster mode (StartCluster).
	cluster bool
}

// Server is one redis-server process, restartable on the same port and
// directory.
type Server struct {
	// Addr is host:port.
	Addr string
	// Dir holds the server's data (the AOF with AppendOnly).
	Dir string

	t    testing.TB
	args []string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// readyTimeout bounds how long a server may take to say it is ready: a
// machine under load (go test -race ./... runs packages at once) is slow.
const readyTimeout = 30 * time.Second

// Start runs a server for t and kills it when t ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (apt-get install redis-server): these tests run against a real Redis and do not skip: %v", err)
	}
	s := &Server{t: t, Dir: t.TempDir()}
	// A free port can be taken by another process before redis-server
	// binds it; then pick another.
	for try := 0; ; try++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.args = []string{bin,
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", s.Dir,
			"--save", "", "--logfile", "", "--daemonize", "no", "--protected-mode", "no",
			"--appendonly", yesNo(o.AppendOnly), "--appendfsync", cmp.Or(o.Fsync, "always"),
		}
		if o.Password != "" {
			s.args = append(s.args, "--requirepass", o.Password)
		}
		if o.cluster {
			s.args = append(s.args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.Dir, "nodes.conf"))
		}
		err = s.start()
		if err == nil {
			break
		}
		if try == 2 {
			t.Fatal(err)
		}
	}
	t.Cleanup(s.Kill)
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs the process and waits until its log says it accepts
// connections (after loading the AOF, on a restart).
func (s *Server) start() error {
	cmd := exec.Command(s.args[0], s.args[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	ready := make(chan struct{})
	done := make(chan struct{})
	var log strings.Builder
	var logMu sync.Mutex
	go func() {
		lines := bufio.NewScanner(out)
		signalled := false
		for lines.Scan() {
			logMu.Lock()
			if log.Len() < 16<<10 {
				log.WriteString(lines.Text() + "\n")
			}
			logMu.Unlock()
			if !signalled && strings.Contains(lines.Text(), "Ready to accept connections") {
				close(ready)
				signalled = true
			}
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(done)
	}()
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case <-ready:
	case <-done:
		logMu.Lock()
		defer logMu.Unlock()
		return fmt.Errorf("redis-server on %s exited before it was ready:\n%s", s.Addr, log.String())
	case <-timer.C:
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server on %s not ready after %s", s.Addr, readyTimeout)
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// Kill ends the server with SIGKILL, as a crash would, and waits for it
// to be gone. Killing a server that is not running does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Restart starts the server again on the same port and directory (so it
// loads its AOF); it must have been killed first.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// StartCluster runs a Redis Cluster of n masters (no replicas) for t,
// made with redis-cli --cluster create, and returns once every node says
// the cluster is ok.
func StartCluster(t testing.TB, n int) []*Server {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli is not installed (apt-get install redis-server brings it): %v", err)
	}
	nodes := make([]*Server, n)
	args := []string{"--cluster", "create"}
	for i := range nodes {
		nodes[i] = Start(t, Options{cluster: true})
		args = append(args, nodes[i].Addr)
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(readyTimeout)
	for _, node := range nodes {
		host, port, _ := net.SplitHostPort(node.Addr)
		for {
			out, err := exec.Command(cli, "-h", host, "-p", port, "cluster", "info").Output()
			if err == nil && strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster node %s not ok after %s: %v\n%s", node.Addr, readyTimeout, err, out)
			}
			time.Sleep(20 * time.Millisecond) // the nodes gossip on their own schedule
		}
	}
	return nodes
}
