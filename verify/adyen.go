package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// adyenVerifier checks Adyen's standard notifications, whose HMAC travels
// inside the body: every notificationItems[].NotificationRequestItem
// carries additionalData.hmacSignature, the base64 HMAC-SHA256 (keyed with
// the hex-decoded HMAC key) of pspReference, originalReference,
// merchantAccountCode, merchantReference, amount.value, amount.currency,
// eventCode and success joined by ":" (a missing one is empty), as
// @adyen/api-library's HmacValidator computes it. Every item of a batch
// must verify.
type adyenVerifier struct {
	keys []*macKey
}

func newAdyen(cfg Config) (Verifier, error) {
	v := &adyenVerifier{}
	for i, s := range cfg.Secrets {
		key, err := SecretHex.key(s)
		if err != nil {
			return nil, errorf("secret #%d %v (Adyen HMAC keys are hex)", i+1, err)
		}
		v.keys = append(v.keys, newMACKey(SHA256, key))
	}
	return v, nil
}

// adyenItem is one NotificationRequestItem, its fields kept as raw JSON so
// that numbers and booleans are signed as written.
type adyenItem struct {
	PSPReference        json.RawMessage `json:"pspReference"`
	OriginalReference   json.RawMessage `json:"originalReference"`
	MerchantAccountCode json.RawMessage `json:"merchantAccountCode"`
	MerchantReference   json.RawMessage `json:"merchantReference"`
	Amount              struct {
		Value    json.RawMessage `json:"value"`
		Currency json.RawMessage `json:"currency"`
	} `json:"amount"`
	EventCode      json.RawMessage `json:"eventCode"`
	Success        json.RawMessage `json:"success"`
	AdditionalData struct {
		HMACSignature string `json:"hmacSignature"`
	} `json:"additionalData"`
}

type adyenNotification struct {
	NotificationItems []struct {
		Item *adyenItem `json:"NotificationRequestItem"`
	} `json:"notificationItems"`
}

// text is a JSON value as JavaScript's Array.join writes it: a string
// unquoted, null or missing empty, anything else as written.
func text(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}

// signedData is what an item's HMAC covers.
func (it *adyenItem) signedData() string {
	return strings.Join([]string{text(it.PSPReference), text(it.OriginalReference), text(it.MerchantAccountCode), text(it.MerchantReference),
		text(it.Amount.Value), text(it.Amount.Currency), text(it.EventCode), text(it.Success)}, ":")
}

// parseAdyen reads the items of a notification body.
func parseAdyen(body []byte) ([]*adyenItem, error) {
	var n adyenNotification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, errors.New("body is not an Adyen notification")
	}
	var items []*adyenItem
	for _, ni := range n.NotificationItems {
		if ni.Item == nil {
			return nil, errors.New("notification item without NotificationRequestItem")
		}
		items = append(items, ni.Item)
	}
	if len(items) == 0 {
		return nil, errors.New("no notificationItems")
	}
	return items, nil
}

func (v *adyenVerifier) Verify(req *Request) (Delivery, error) {
	var d Delivery
	items, err := parseAdyen(req.Body)
	if err != nil {
		return d, fail(ReasonMissingSignature, "%v", err)
	}
	var ids []string
	for i, it := range items {
		if it.AdditionalData.HMACSignature == "" {
			return d, fail(ReasonMissingSignature, "item %d has no additionalData.hmacSignature", i+1)
		}
		var want [maxSignatureSize]byte
		n, ok := Base64.decode(want[:], it.AdditionalData.HMACSignature)
		if !ok || n != sha256.Size {
			return d, fail(ReasonMalformedSignature, "item %d: hmacSignature is not a base64 SHA-256 MAC", i+1)
		}
		if !anyKeyMatches(v.keys, want[:n], it.signedData()) {
			return d, fail(ReasonBadSignature, "item %d: no signature matches any configured secret", i+1)
		}
		ids = append(ids, text(it.PSPReference)+":"+text(it.EventCode)+":"+text(it.Success))
	}
	// pspReference, eventCode and success are signed: Adyen's duplicate key.
	d.ID, d.IDSigned, d.Event = strings.Join(ids, ","), true, text(items[0].EventCode)
	return d, nil
}

// signAdyen fills in additionalData.hmacSignature of every item of an
// Adyen notification body.
func signAdyen(o SignOptions, out *Signed) error {
	key, err := SecretHex.key(o.Secret)
	if err != nil {
		return errors.New("adyen: the HMAC key must be hex")
	}
	body := o.Body
	if _, err := parseAdyen(body); err != nil {
		// Not a notification: send a minimal test one instead.
		event := o.Event
		if event == "" {
			event = "AUTHORISATION"
		}
		body, _ = json.Marshal(map[string]any{"live": "false", "notificationItems": []any{map[string]any{"NotificationRequestItem": map[string]any{
			"pspReference": strings.ReplaceAll(o.ID, "-", ""), "merchantAccountCode": "TestMerchant", "merchantReference": "webhook-test",
			"amount": map[string]any{"value": 0, "currency": "EUR"}, "eventCode": event, "success": "true", "additionalData": map[string]any{}}}}})
	}
	o.Body = body
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(o.Body))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return errors.New("adyen: the body must be a notification with notificationItems")
	}
	items, err := parseAdyen(o.Body)
	if err != nil {
		return errors.New("adyen: the body must be a notification with notificationItems")
	}
	list, _ := doc["notificationItems"].([]any)
	for i, it := range items {
		wrapper, _ := list[i].(map[string]any)
		item, _ := wrapper["NotificationRequestItem"].(map[string]any)
		add, _ := item["additionalData"].(map[string]any)
		if add == nil {
			add = map[string]any{}
			item["additionalData"] = add
		}
		add["hmacSignature"] = base64.StdEncoding.EncodeToString(macOnce(SHA256, key, it.signedData()))
	}
	out.Body, err = json.Marshal(doc)
	return err
}
