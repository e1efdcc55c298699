package webhookverify

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v82/github"
	"github.com/spf13/cobra"

	"github.com/webhookverify/caddy-webhook-verify/verify"
)

// runWebhook runs `caddy webhook <args>` in-process.
func runWebhook(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	root := &cobra.Command{Use: "webhook", SilenceUsage: true, SilenceErrors: true}
	webhookCommands(root)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

// parseSigned reads `caddy webhook sign` output: headers, then an optional
// blank line and body.
func parseSigned(t *testing.T, out string) (http.Header, []byte) {
	t.Helper()
	h := http.Header{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			rest, _ := strings.CutPrefix(out[strings.Index(out, "\n\n")+2:], "")
			return h, []byte(strings.TrimSuffix(rest, "\n"))
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("not a header line: %q", line)
		}
		h.Add(k, v)
	}
	return h, nil
}

func TestSignCommand(t *testing.T) {
	dir := t.TempDir()
	bodyFile := filepath.Join(dir, "body.json")
	body := `{"zen":"Design for failure.","hook_id":42}`
	os.WriteFile(bodyFile, []byte(body), 0o600)
	t.Setenv("WV_SIGN_SECRET", "cli-secret")

	out, _, err := runWebhook(t, "", "sign", "--provider", "github", "--secret", "{env.WV_SIGN_SECRET}", "--body", bodyFile, "--event", "ping")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := parseSigned(t, out)
	if err := github.ValidateSignature(h.Get("X-Hub-Signature-256"), []byte(body), []byte("cli-secret")); err != nil {
		t.Fatalf("go-github rejects the signed headers: %v\n%s", err, out)
	}
	if h.Get("X-GitHub-Delivery") == "" || h.Get("X-GitHub-Event") != "ping" {
		t.Errorf("delivery id or event missing:\n%s", out)
	}
	if strings.Contains(out, "cli-secret") {
		t.Errorf("the output shows the secret:\n%s", out)
	}

	// Body from stdin; the provider's own verifier accepts every signable preset's output.
	for _, p := range verify.Presets() {
		if !p.CanSign() {
			continue
		}
		secret := secretForCLI(p.Name)
		url := "https://hooks.example.com/p/" + p.Name
		out, _, err := runWebhook(t, `{"id":"evt_cli","type":"test"}`, "sign", "--provider", p.Name, "--secret", secret, "--body", "-", "--url", url)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		h, signedBody := parseSigned(t, out)
		if signedBody == nil {
			signedBody = []byte(`{"id":"evt_cli","type":"test"}`)
		}
		if p.Name == "twilio" {
			// JSON bodies are signed with bodySHA256 added to the URL (printed on stderr)
			continue
		}
		v, _ := p.New(verify.Config{Secrets: []string{secret}})
		if _, err := v.Verify(&verify.Request{Method: "POST", URL: url, Header: h, Body: signedBody}); err != nil {
			t.Errorf("%s: `caddy webhook sign` output does not verify: %v\n%s", p.Name, err, out)
		}
	}

	if _, _, err := runWebhook(t, "", "sign", "--provider", "discord", "--secret", "x"); err == nil || !strings.Contains(err.Error(), "want one of") {
		t.Errorf("signing for a public-key provider: %v", err)
	}
	if _, _, err := runWebhook(t, "", "sign", "--provider", "github", "--secret", "{env.WV_UNSET_SECRET}"); err == nil {
		t.Errorf("an unset secret placeholder was accepted")
	}
	curl, _, err := runWebhook(t, "", "sign", "--provider", "stripe", "--secret", "whsec_x", "--url", "http://localhost:8080/stripe", "--curl")
	if err != nil || !strings.HasPrefix(curl, "curl -sS -X POST 'http://localhost:8080/stripe'") || !strings.Contains(curl, "-H 'Stripe-Signature: t=") {
		t.Errorf("--curl: %v\n%s", err, curl)
	}
}

func secretForCLI(provider string) string {
	switch provider {
	case "standard":
		return "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	case "postmark", "pipedrive":
		return "u:p"
	case "adyen", "adyenplatform":
		return "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
	case "braintree":
		return "cli_public:cli_private"
	case "teams":
		return "Y2xpLXRlYW1zLXRva2Vu"
	}
	return "cli-" + provider
}

// `caddy webhook send` posts deliveries that a real gateway accepts, for
// every shared-secret preset.
func TestSendCommandThroughCaddy(t *testing.T) {
	up := newUpstream(t)
	var sites strings.Builder
	sites.WriteString(":9080 {\n")
	var signable []*verify.Preset
	for _, p := range verify.Presets() {
		if !p.CanSign() {
			continue
		}
		signable = append(signable, p)
		name := "WV_SEND_" + strings.ToUpper(p.Name)
		t.Setenv(name, secretForCLI(p.Name))
		sites.WriteString("\twebhook_verify /send/" + p.Name + " " + p.Name + " {\n\t\tsecret {env." + name + "}\n\t}\n")
	}
	sites.WriteString("\treverse_proxy {upstream}\n}\n")
	startCaddy(t, up, sites.String())

	for _, p := range signable {
		out, _, err := runWebhook(t, "", "send", "--provider", p.Name, "--secret", "{env.WV_SEND_"+strings.ToUpper(p.Name)+"}",
			"--url", "http://"+caddyAddr+"/send/"+p.Name)
		if err != nil || !strings.Contains(out, "200 OK") {
			t.Errorf("send %s: %v\n%s", p.Name, err, out)
		}
	}
	if n := up.count(); n != len(signable) {
		t.Errorf("the app got %d of %d deliveries", n, len(signable))
	}
	// A wrong secret is refused, and send says so.
	if _, _, err := runWebhook(t, "", "send", "--provider", "github", "--secret", "wrong", "--url", "http://"+caddyAddr+"/send/github"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("send with a wrong secret: %v", err)
	}
}
