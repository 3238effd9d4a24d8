package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every endpoint signing secret (Standard Webhooks).
const SecretPrefix = "whsec_"

// secretBytes is the size of a new secret's random part.
const secretBytes = 32

// NewSecret returns a fresh signing secret: "whsec_" and the base64 of 32 random bytes.
func NewSecret(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, secretBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("webhook: secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// secretKey is the HMAC key of a secret: the base64-decoded part after "whsec_".
func secretKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("webhook: secret lacks the whsec_ prefix")
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("webhook: secret is not base64: %w", err)
	}
	return key, nil
}

// Signature returns "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" for one secret.
func Signature(secret, id string, at time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(at.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Headers are the Standard Webhooks headers of one attempt.
type Headers struct {
	// ID is the webhook-id: the event's stable id, the same on every attempt.
	ID string
	// Timestamp is the webhook-timestamp, in Unix seconds.
	Timestamp string
	// Signature is the webhook-signature: one "v1,<sig>" per live secret, space separated.
	Signature string
}

// Sign makes the headers for body signed with every secret given (the current one first,
// then a rotated one still in its overlap window).
func Sign(id string, at time.Time, body []byte, secrets ...string) (Headers, error) {
	if len(secrets) == 0 {
		return Headers{}, errors.New("webhook: sign: no secret")
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Signature(s, id, at, body)
		if err != nil {
			return Headers{}, err
		}
		sigs = append(sigs, sig)
	}
	return Headers{ID: id, Timestamp: strconv.FormatInt(at.Unix(), 10), Signature: strings.Join(sigs, " ")}, nil
}
