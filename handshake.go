package webhookverify

import (
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/webhookverify/caddy-webhook-verify/verify"
)

// handshakeSecrets keeps the secrets providers hand over in a handshake
// (Asana's X-Hook-Secret), per route name. It lives at package level so a
// reload keeps it; a durable store can replace it.
var handshakeSecrets verify.SecretStore = verify.NewMemorySecretStore()

// Handshake modes: who answers a provider's signed challenges.
const (
	handshakeGateway = "gateway"
	handshakeApp     = "app"
)

// errHandshake is what a sender sees when a handshake cannot be answered.
var errHandshake = errors.New("webhook handshake refused")

// handshakeOptions is the `handshake` subdirective:
//
//	handshake gateway|app [confirm_subscription]
//
// gateway (the default) answers signed challenges at the edge once they
// verify; app passes them to the app as any delivery. confirm_subscription
// lets the gateway confirm an SNS subscription by fetching its
// SubscribeURL (on an sns.<region>.amazonaws.com host only).
func (h *Handler) unmarshalHandshake(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) == 0 || len(args) > 2 {
		return d.ArgErr()
	}
	switch args[0] {
	case handshakeGateway, handshakeApp:
		h.Handshake = args[0]
	default:
		return d.Errf("handshake: want gateway or app, got %q", args[0])
	}
	if len(args) == 2 {
		if args[1] != "confirm_subscription" {
			return d.Errf("handshake: unknown option %q (want confirm_subscription)", args[1])
		}
		h.ConfirmSubscription = true
	}
	return nil
}

// challenge asks the preset whether the request is a set-up request the
// gateway answers at stage, and answers it. It reports whether the
// request was answered (or refused) here.
func (d *delivery) challenge(req *verify.Request, stage verify.Stage) (bool, error) {
	h := d.h
	if !h.preset.HasChallenge(stage) || (stage == verify.AfterVerify && h.Handshake == handshakeApp) {
		return false, nil
	}
	hs, err := h.preset.Challenge(&verify.ChallengeRequest{
		Request: req, Stage: stage, Delivery: d.Delivery, Secrets: h.verifyConfig.Secrets, Route: h.Name, Store: handshakeSecrets,
		Context: d.r.Context(), ConfirmSubscription: h.ConfirmSubscription,
	})
	if err != nil {
		d.err = err
		d.record(outHandshakeRefused)
		return true, caddyhttp.Error(http.StatusUnauthorized, errHandshake)
	}
	if hs == nil {
		return false, nil
	}
	d.record(outHandshake)
	return true, d.answer(hs)
}
