package verify

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
)

// maxSignatureSize fits every signature a scheme decodes: SHA-512 MACs and
// Ed25519 signatures are 64 bytes, DER ECDSA P-256 ones up to 72.
const maxSignatureSize = 80

// PublicKeyKind is a signature algorithm together with how its public keys
// are written.
type PublicKeyKind uint8

// The public-key schemes providers use.
const (
	NoPublicKey PublicKeyKind = iota
	// Ed25519Hex keys are 64 hex digits (Discord's "public key").
	Ed25519Hex
	// Ed25519Whpk keys are "whpk_" and the base64 of 32 bytes (Standard
	// Webhooks' asymmetric "v1a" signatures).
	Ed25519Whpk
	// ECDSAP256 keys are base64 DER SubjectPublicKeyInfo, or PEM, and
	// signatures are DER over SHA-256 of the message (SendGrid).
	ECDSAP256
	// Ed25519Base64 keys are the base64 of 32 bytes (Telnyx).
	Ed25519Base64
)

type publicKey struct {
	ed ed25519.PublicKey
	ec *ecdsa.PublicKey
}

var errKeyFormat = errors.New("is not a key of the expected format")

func (k PublicKeyKind) parse(raw string) (publicKey, error) {
	raw = strings.TrimSpace(raw)
	switch k {
	case Ed25519Hex, Ed25519Whpk, Ed25519Base64:
		var b []byte
		var err error
		if k == Ed25519Hex {
			b, err = hex.DecodeString(raw)
		} else {
			b, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(raw, "whpk_"))
		}
		if err != nil || len(b) != ed25519.PublicKeySize {
			return publicKey{}, errKeyFormat
		}
		return publicKey{ed: ed25519.PublicKey(b)}, nil
	case ECDSAP256:
		var der []byte
		if block, _ := pem.Decode([]byte(raw)); block != nil {
			der = block.Bytes
		} else {
			var err error
			if der, err = base64.StdEncoding.DecodeString(raw); err != nil {
				return publicKey{}, errKeyFormat
			}
		}
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return publicKey{}, errKeyFormat
		}
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok || ec.Curve.Params().Name != "P-256" {
			return publicKey{}, errKeyFormat
		}
		return publicKey{ec: ec}, nil
	}
	return publicKey{}, errKeyFormat
}

// signatureSize is the exact size of a signature, or 0 when it varies.
func (k PublicKeyKind) signatureSize() int {
	if k == ECDSAP256 {
		return 0
	}
	return ed25519.SignatureSize
}

// verifyPublic checks the candidates against every configured key.
func (v *schemeVerifier) verifyPublic(req *Request, body []byte, url, ts, id string, candidates [][]byte) bool {
	msg := v.message(req, body, url, ts, id)
	var digest [sha256.Size]byte
	if v.pubKind == ECDSAP256 {
		digest = sha256.Sum256(msg)
	}
	for _, key := range v.pub {
		for _, sig := range candidates {
			switch {
			case key.ed != nil && ed25519.Verify(key.ed, msg, sig):
				return true
			case key.ec != nil && ecdsa.VerifyASN1(key.ec, digest[:], sig):
				return true
			}
		}
	}
	return false
}
