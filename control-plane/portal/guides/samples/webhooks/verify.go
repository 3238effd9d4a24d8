// Command verify is a Steller webhook receiver that accepts a delivery only when its
// Standard Webhooks signature and timestamp check out (the webhooks guide's Go sample).
//
//	WEBHOOK_SECRET=whsec_... PORT=8080 go run verify.go
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// tolerance is how far webhook-timestamp may be from this machine's clock.
const tolerance = 5 * time.Minute

// verify returns nil when one of the "v1,<base64>" signatures in webhook-signature is the
// HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}" keyed by the secret.
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not a number")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook-timestamp is more than 5 minutes away")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return errors.New("the secret is not whsec_ and base64")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	// During a secret rotation the header holds one signature per secret.
	for _, part := range strings.Fields(sigs) {
		version, sig, _ := strings.Cut(part, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if version == "v1" && err == nil && hmac.Equal(got, want) { // constant time
			return nil
		}
	}
	return errors.New("no signature matches")
}

func main() {
	secret := os.Getenv("WEBHOOK_SECRET")
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		if err := verify(secret, r.Header, body, time.Now()); err != nil {
			http.Error(w, "rejected: "+err.Error(), http.StatusUnauthorized)
			return
		}
		// Accepted. Process the event once: skip a webhook-id you have already processed.
		w.WriteHeader(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", ":"+os.Getenv("PORT"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on :%d\n", ln.Addr().(*net.TCPAddr).Port)
	log.Fatal(http.Serve(ln, nil))
}
