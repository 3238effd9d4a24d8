package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/webhook"
)

// webhookTolerance is how far a webhook-timestamp may be from the receiver's clock: the
// five minutes Standard Webhooks' reference receivers allow, against replays.
const webhookTolerance = 5 * time.Minute

var (
	errMissingHeader = errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	errTimestamp     = errors.New("webhook-timestamp is not within the tolerance")
	errNoSignature   = errors.New("no v1 signature matches")
)

// verifyWebhook checks a request as a Standard Webhooks receiver does, with HMAC code of
// its own (it never calls the package's signer): the timestamp lies within
// webhookTolerance of now, and one of the space-separated "v1,<base64>" signatures is the
// HMAC-SHA256 of "{id}.{timestamp}.{body}" under one of secrets, compared in constant time.
func verifyWebhook(secrets []string, now time.Time, h http.Header, body []byte) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errMissingHeader
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errTimestamp
	}
	if skew := now.Sub(time.Unix(sec, 0)); skew > webhookTolerance || skew < -webhookTolerance {
		return errTimestamp
	}
	for _, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil {
			continue
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + ts + "."))
		mac.Write(body)
		want := mac.Sum(nil)
		for _, part := range strings.Fields(sigs) {
			version, sig, ok := strings.Cut(part, ",")
			if !ok || version != "v1" {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(sig)
			if err == nil && hmac.Equal(got, want) { // constant time
				return nil
			}
		}
	}
	return errNoSignature
}

// The test vector published with the Standard Webhooks specification.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignReproducesTheStandardWebhooksVector(t *testing.T) {
	t.Parallel()
	h, err := webhook.Sign(vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody), vectorSecret)
	require.NoError(t, err)
	assert.Equal(t, webhook.Headers{ID: vectorID, Timestamp: strconv.Itoa(vectorTimestamp), Signature: vectorSignature}, h)
}

// The tests' verifier must be able to refuse, or the delivery tests prove nothing.
func TestVerifierAcceptsOnlyAFreshMatchingSignature(t *testing.T) {
	t.Parallel()
	signed := time.Unix(vectorTimestamp, 0)
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another secret, 32 bytes long!!!"))
	header := func(id, ts, sig string) http.Header {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		return h
	}
	good := header(vectorID, strconv.Itoa(vectorTimestamp), vectorSignature)
	cases := []struct {
		name    string
		secrets []string
		now     time.Time
		h       http.Header
		body    string
		want    error
	}{
		{"the published vector", []string{vectorSecret}, signed, good, vectorBody, nil},
		{"4m59s late", []string{vectorSecret}, signed.Add(4*time.Minute + 59*time.Second), good, vectorBody, nil},
		{"one of several secrets", []string{other, vectorSecret}, signed, good, vectorBody, nil},
		{"one of several signatures", []string{vectorSecret}, signed,
			header(vectorID, strconv.Itoa(vectorTimestamp), "v1,bm9wZQ== "+vectorSignature), vectorBody, nil},
		{"another secret", []string{other}, signed, good, vectorBody, errNoSignature},
		{"body changed", []string{vectorSecret}, signed, good, `{"test": 2432232315}`, errNoSignature},
		{"id changed", []string{vectorSecret}, signed,
			header("msg_other", strconv.Itoa(vectorTimestamp), vectorSignature), vectorBody, errNoSignature},
		{"timestamp changed", []string{vectorSecret}, signed,
			header(vectorID, strconv.Itoa(vectorTimestamp+1), vectorSignature), vectorBody, errNoSignature},
		{"another scheme", []string{vectorSecret}, signed,
			header(vectorID, strconv.Itoa(vectorTimestamp), "v1a"+vectorSignature[2:]), vectorBody, errNoSignature},
		{"5m1s late", []string{vectorSecret}, signed.Add(5*time.Minute + time.Second), good, vectorBody, errTimestamp},
		{"5m1s early", []string{vectorSecret}, signed.Add(-5*time.Minute - time.Second), good, vectorBody, errTimestamp},
		{"no signature", []string{vectorSecret}, signed, header(vectorID, strconv.Itoa(vectorTimestamp), ""), vectorBody, errMissingHeader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.ErrorIs(t, verifyWebhook(c.secrets, c.now, c.h, []byte(c.body)), c.want)
		})
	}
}
