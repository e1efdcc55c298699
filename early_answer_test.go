package webhookverify

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const earlySite = `
	:9080 {
		webhook_verify github {
			secret {env.WV_GH}
			max_body 1KiB
		}
		reverse_proxy {upstream}
	}`

// An answer given before the body is read (413 past max_body, 401 for
// headers that cannot verify) reaches an HTTP/1.1 sender that stalls, and
// the connection is closed rather than drained.
func TestEarlyAnswersHTTP1(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	up := newUpstream(t)
	startCaddy(t, up, earlySite)
	sig := "X-Hub-Signature-256: sha256=" + strings.Repeat("0", 64) + "\r\n"
	for _, c := range []struct {
		name, head, body, want string
	}{
		{"over max_body, then stalls", "Content-Length: 100000\r\n" + sig, strings.Repeat("x", 2048), " 413 "},
		{"chunked over max_body, then stalls", "Transfer-Encoding: chunked\r\n" + sig, "800\r\n" + strings.Repeat("x", 2048) + "\r\n", " 413 "},
		{"unsigned, sends nothing", "Content-Length: 100000\r\n", "", " 401 "},
		{"unsigned, then stalls", "Content-Length: 100000\r\n", strings.Repeat("x", 2048), " 401 "},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", caddyAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			start := time.Now()
			conn.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\n" + c.head + "\r\n" + c.body))
			resp := bufio.NewReader(conn)
			line, err := resp.ReadString('\n')
			if err != nil || !strings.Contains(line, c.want) {
				t.Fatalf("got %q %v, want %s", line, err, c.want)
			}
			if waited := time.Since(start); waited > 5*time.Second {
				t.Errorf("answered after %s", waited)
			}
			// the connection is closed, not kept for another request
			head, _ := readUntilBlank(resp)
			if !strings.Contains(strings.ToLower(head), "connection: close") {
				t.Errorf("no Connection: close in %q", head)
			}
		})
	}
	if n := up.count(); n != 0 {
		t.Fatalf("the app saw %d requests", n)
	}
}

func readUntilBlank(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		b.WriteString(line)
		if err != nil || line == "\r\n" {
			return b.String(), err
		}
	}
}

// Over HTTP/2 a body past max_body that the sender finishes gets a clean
// 413: the rest is read and dropped (within a bound) so the stream is not
// reset under the answer, which some clients (curl) report instead of it.
func TestEarlyAnswerHTTP2(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	up := newUpstream(t)
	startCaddyWith(t, up, "servers {\n\tprotocols h1 h2c\n}", earlySite)

	conn, err := net.Dial("tcp", caddyAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write([]byte(http2.ClientPreface))
	fr := http2.NewFramer(conn, conn)
	fr.WriteSettings()
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	body := bytes.Repeat([]byte("x"), 200<<10)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/"},
		{"content-length", strconv.Itoa(len(body))}, {"x-hub-signature-256", "sha256=" + strings.Repeat("0", 64)}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hbuf.Bytes(), EndHeaders: true})

	// Send the body as the server's flow-control windows allow, while
	// reading what it sends.
	window := int64(65535)
	status := ""
	reset := false
	sent := 0
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			status = f.Value
		}
	})
	for done := false; !done; {
		for sent < len(body) && window > 0 {
			n := min(int64(16<<10), window, int64(len(body)-sent))
			fr.WriteData(1, sent+int(n) == len(body), body[sent:sent+int(n)])
			sent += int(n)
			window -= n
		}
		f, err := fr.ReadFrame()
		if err != nil {
			break // the server closed the connection
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 || f.StreamID == 1 {
				window += int64(f.Increment)
			}
		case *http2.HeadersFrame:
			dec.Write(f.HeaderBlockFragment())
		case *http2.RSTStreamFrame:
			reset = true
			done = true
		case *http2.DataFrame:
			done = f.StreamEnded() && sent == len(body)
		case *http2.GoAwayFrame:
			done = true
		}
		if status != "" && sent == len(body) {
			done = true
		}
	}
	if status != "413" {
		t.Fatalf(":status %q, want 413", status)
	}
	// a short wait for a reset that would follow the answer
	conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break
		}
		if rst, ok := f.(*http2.RSTStreamFrame); ok && rst.StreamID == 1 {
			reset = true
		}
	}
	if reset {
		t.Fatal("the stream was reset under the 413")
	}
	if up.count() != 0 {
		t.Fatal("the app saw the request")
	}
}
