package verify

import (
	"encoding/json"
)

// msgraphVerifier checks Microsoft Graph change notifications, which are
// not signed: every value[].clientState must equal the clientState given
// when the subscription was created (the secret), compared in constant
// time. Rich notifications' validationTokens (JWTs from Microsoft) are not
// checked.
type msgraphVerifier struct {
	secrets []string
}

func newMSGraph(cfg Config) (Verifier, error) {
	return &msgraphVerifier{secrets: cfg.Secrets}, nil
}

func (v *msgraphVerifier) Verify(req *Request) (Delivery, error) {
	var d Delivery
	var body struct {
		Value []struct {
			ClientState    *string `json:"clientState"`
			ChangeType     string  `json:"changeType"`
			SubscriptionID string  `json:"subscriptionId"`
		} `json:"value"`
	}
	if json.Unmarshal(req.Body, &body) != nil || len(body.Value) == 0 {
		return d, fail(ReasonMissingSignature, "no change notifications in the body")
	}
	for i, n := range body.Value {
		if n.ClientState == nil || *n.ClientState == "" {
			return d, fail(ReasonMissingSignature, "notification %d has no clientState", i+1)
		}
		if !constantTimeIn(*n.ClientState, v.secrets) {
			return d, fail(ReasonBadSignature, "notification %d: clientState matches no configured secret", i+1)
		}
	}
	d.Event = body.Value[0].ChangeType
	return d, nil
}

// signMSGraph puts the secret in every notification's clientState.
func signMSGraph(o SignOptions, out *Signed) error {
	var doc map[string]any
	if json.Unmarshal(o.Body, &doc) != nil {
		doc = map[string]any{}
	}
	values, _ := doc["value"].([]any)
	if len(values) == 0 {
		values = []any{map[string]any{"changeType": "created", "subscriptionId": o.ID}}
	}
	for _, v := range values {
		if n, ok := v.(map[string]any); ok {
			n["clientState"] = o.Secret
		}
	}
	doc["value"] = values
	body, err := json.Marshal(doc)
	out.Body = body
	return err
}
