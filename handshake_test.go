package webhookverify

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalHandshake(t *testing.T) {
	for _, c := range []struct {
		input       string
		mode        string
		confirm     bool
		wantErr     string
		validateErr bool
	}{
		{input: "webhook_verify slack {\nhandshake app\n}", mode: "app"},
		{input: "webhook_verify sns {\nhandshake gateway confirm_subscription\n}", mode: "gateway", confirm: true},
		{input: "webhook_verify slack {\nhandshake\n}", wantErr: "wrong argument count"},
		{input: "webhook_verify slack {\nhandshake proxy\n}", wantErr: "want gateway or app"},
		{input: "webhook_verify slack {\nhandshake app yes\n}", wantErr: "unknown option"},
		{input: "webhook_verify slack {\nhandshake app\nhandshake gateway\n}", wantErr: "given twice"},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.input))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: err = %v, want %q", c.input, err, c.wantErr)
			}
			continue
		}
		if err != nil || h.Handshake != c.mode || h.ConfirmSubscription != c.confirm {
			t.Errorf("%q: %+v, %v", c.input, h, err)
		}
	}
	h := Handler{Provider: "slack", Handshake: "proxy"}
	if err := h.Validate(); err == nil {
		t.Errorf("handshake proxy passed Validate")
	}
}
