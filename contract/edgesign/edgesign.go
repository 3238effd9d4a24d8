// Package edgesign owns the signature the edge puts on the identity it forwards, and its
// verification by upstreams. Kong's Go plugins fail open when their plugin server is down
// (Kong/kong#8508), so identity headers alone would let anyone who reaches an upstream
// claim to be any partner; with the signature, an upstream serves only requests the edge
// decided, whatever happened in front of it.
//
// The edge signs, with HMAC-SHA256 and a secret it shares with the upstreams, a canonical
// string of the request's method, path, edge request id, partner, workspace, environment,
// key id and the time of signing:
//
//	steller-edge-v1\n<method>\n<path>\n<request id>\n<partner>\n<workspace>\n<environment>\n<key id>\n<unix seconds>
//
// and sends it as `X-Steller-Signature: t=<unix seconds>,v1=<base64 HMAC>`. An upstream
// recomputes it from the headers it received and refuses a request that is unsigned,
// tampered with, or signed outside a short window (DefaultWindow). Up to two secrets are
// live at a time so they can be rotated without a failed request: every party takes the
// same ordered list, the edge signs with the first, upstreams accept either.
//
// The package depends only on the standard library and Steller's contract packages (header
// names, problem documents), so the production gift-card API can import it as it is.
package edgesign

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Version names the canonical string's layout; it prefixes the string and names the
// signature in the header.
const Version = "v1"

// canonicalPrefix starts every canonical string, so a signature made for anything else
// with the same secret can never verify here.
const canonicalPrefix = "steller-edge-" + Version + "\n"

// DefaultWindow is how far a signature's time may be from the verifier's clock, either
// way. The edge signs just before it forwards, so this is network time plus clock skew.
const DefaultWindow = 60 * time.Second

// MinSecretLen is the shortest secret accepted, in bytes: 32 bytes is the HMAC-SHA256 key
// size. GenerateSecret makes one.
const MinSecretLen = 32

// MaxSecrets is how many secrets may be live at once: the current one and, during a
// rotation, the other.
const MaxSecrets = 2

// Identity is what a signature covers: the request as the edge decided it.
type Identity struct {
	// Method is the HTTP method, upper case.
	Method string
	// Path is the request path, without the query string.
	Path string
	// RequestID is the edge-minted request id (X-Request-Id).
	RequestID string
	// PartnerID is the key's partner (X-Steller-Partner-Id).
	PartnerID string
	// WorkspaceID is the key's workspace (X-Steller-Workspace-Id).
	WorkspaceID string
	// Environment is the key's environment, "test" or "live" (X-Steller-Environment).
	Environment string
	// KeyID is the key's public id (X-Steller-Key-Id).
	KeyID string
}

// wellFormed reports whether no field holds a newline, the canonical string's separator.
func (id *Identity) wellFormed() bool {
	for _, f := range [...]string{id.Method, id.Path, id.RequestID, id.PartnerID, id.WorkspaceID, id.Environment, id.KeyID} {
		if strings.IndexByte(f, '\n') >= 0 {
			return false
		}
	}
	return true
}

// Errors of Verify; an upstream answers each with its problem (see Problem).
var (
	// ErrUnsigned means the request carries no signature: it did not come through the edge.
	ErrUnsigned = errors.New("edgesign: the request is not signed by the edge")
	// ErrMalformed means the signature header cannot be read.
	ErrMalformed = errors.New("edgesign: the edge signature header is malformed")
	// ErrStale means the signature's time is outside the window: a replay, or a clock far off.
	ErrStale = errors.New("edgesign: the edge signature is outside its time window")
	// ErrMismatch means no live secret gives the signature: the request or its identity was
	// changed after the edge signed it, or it was never signed by the edge.
	ErrMismatch = errors.New("edgesign: the edge signature does not match the request")
)

// GenerateSecret returns a new random secret (32 random bytes, base64url, prefixed esig_ so
// secret scanners recognize it).
func GenerateSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("edgesign: %w", err)
	}
	return "esig_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// ParseSecrets checks an ordered list of secrets: one or two, each at least MinSecretLen
// bytes, no two alike. The first signs; all verify.
func ParseSecrets(secrets []string) ([][]byte, error) {
	if len(secrets) == 0 {
		return nil, errors.New("edgesign: at least one edge signing secret is required")
	}
	if len(secrets) > MaxSecrets {
		return nil, fmt.Errorf("edgesign: at most %d edge signing secrets may be live at once, got %d", MaxSecrets, len(secrets))
	}
	keys := make([][]byte, 0, len(secrets))
	for i, s := range secrets {
		if len(s) < MinSecretLen {
			return nil, fmt.Errorf("edgesign: edge signing secret %d is %d bytes; at least %d are required", i+1, len(s), MinSecretLen)
		}
		for _, k := range keys {
			if hmac.Equal(k, []byte(s)) {
				return nil, errors.New("edgesign: the two edge signing secrets are the same")
			}
		}
		keys = append(keys, []byte(s))
	}
	return keys, nil
}

// mac computes HMACs of canonical strings with one key.
type mac struct {
	key  []byte
	pool sync.Pool // of *macState, so signing allocates only its result
}

// macState is one pooled HMAC with a scratch buffer for the canonical string.
type macState struct {
	h   hash.Hash
	buf []byte // the canonical string
	out []byte // the sum; hash.Hash.Sum's argument escapes, so it lives here, not on a stack
}

func newMAC(key []byte) *mac {
	m := &mac{key: key}
	m.pool.New = func() any {
		return &macState{h: hmac.New(sha256.New, m.key), buf: make([]byte, 0, 256), out: make([]byte, 0, sha256.Size)}
	}
	return m
}

// sum appends to dst the HMAC of id's canonical string at unix time ts. Fields are joined
// by newlines, which none of them can hold: a newline cannot appear in an HTTP request line
// or header value, and Verify refuses an identity with one, so no two identities that
// verify share a canonical string.
func (m *mac) sum(dst []byte, id *Identity, ts int64) []byte {
	st := m.pool.Get().(*macState)
	b := append(st.buf[:0], canonicalPrefix...)
	for _, f := range [...]string{id.Method, id.Path, id.RequestID, id.PartnerID, id.WorkspaceID, id.Environment, id.KeyID} {
		b = append(b, f...)
		b = append(b, '\n')
	}
	b = strconv.AppendInt(b, ts, 10)
	st.h.Reset()
	_, _ = st.h.Write(b)
	st.out = st.h.Sum(st.out[:0])
	dst = append(dst, st.out...)
	if cap(b) <= 4096 { // keep the grown buffer, but not one a huge path made
		st.buf = b
	}
	m.pool.Put(st)
	return dst
}

// Signer signs identities for the edge. It is safe for concurrent use.
type Signer struct {
	mac *mac
}

// NewSigner returns a Signer that signs with the first of secrets (see ParseSecrets).
func NewSigner(secrets []string) (*Signer, error) {
	keys, err := ParseSecrets(secrets)
	if err != nil {
		return nil, err
	}
	return &Signer{mac: newMAC(keys[0])}, nil
}

// Sign returns the X-Steller-Signature header value for id signed at time at.
func (s *Signer) Sign(id *Identity, at time.Time) string {
	ts := at.Unix()
	var buf [96]byte
	b := append(buf[:0], "t="...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, ","+Version+"="...)
	var sum [sha256.Size]byte
	raw := s.mac.sum(sum[:0], id, ts)
	b = base64.StdEncoding.AppendEncode(b, raw)
	return string(b)
}

// VerifierConfig holds a Verifier's settings.
type VerifierConfig struct {
	// Secrets are the live secrets, as ParseSecrets takes them (required).
	Secrets []string
	// Window is how far a signature's time may be from now; DefaultWindow when zero.
	Window time.Duration
	// Clock gives the time; time.Now when nil.
	Clock func() time.Time
}

// Verifier checks signatures for an upstream. It is safe for concurrent use.
type Verifier struct {
	macs   []*mac
	window time.Duration
	clock  func() time.Time
}

// NewVerifier validates cfg and returns a Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	keys, err := ParseSecrets(cfg.Secrets)
	if err != nil {
		return nil, err
	}
	if cfg.Window < 0 {
		return nil, fmt.Errorf("edgesign: VerifierConfig.Window must not be negative, got %s", cfg.Window)
	}
	v := &Verifier{window: cfg.Window, clock: cfg.Clock}
	if v.window == 0 {
		v.window = DefaultWindow
	}
	if v.clock == nil {
		v.clock = time.Now
	}
	for _, k := range keys {
		v.macs = append(v.macs, newMAC(k))
	}
	return v, nil
}

// Verify checks header (an X-Steller-Signature value) against id: nil, or one of ErrUnsigned,
// ErrMalformed, ErrStale and ErrMismatch. The time is checked before the MAC, so a stale
// replay is told apart from a forgery; both are refused.
func (v *Verifier) Verify(id *Identity, header string) error {
	if header == "" {
		return ErrUnsigned
	}
	ts, sig, err := parseHeader(header)
	if err != nil {
		return err
	}
	if !id.wellFormed() {
		return ErrMismatch // the edge never signs a field with a newline (see mac.sum)
	}
	now := v.clock().Unix()
	if d := now - ts; d > int64(v.window/time.Second) || -d > int64(v.window/time.Second) {
		return ErrStale
	}
	var sum [sha256.Size]byte
	for _, m := range v.macs {
		if hmac.Equal(m.sum(sum[:0], id, ts), sig) {
			return nil
		}
	}
	return ErrMismatch
}

// parseHeader reads "t=<unix seconds>,v1=<base64>"; unknown extra parameters are ignored so
// a later edge may add a signature of a newer version beside v1.
func parseHeader(header string) (int64, []byte, error) {
	var ts int64
	var sig []byte
	haveTS := false
	for part := range strings.SplitSeq(header, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, nil, ErrMalformed
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n <= 0 {
				return 0, nil, ErrMalformed
			}
			ts, haveTS = n, true
		case Version:
			b, err := base64.StdEncoding.DecodeString(val)
			if err != nil || len(b) != sha256.Size {
				return 0, nil, ErrMalformed
			}
			sig = b
		}
	}
	if !haveTS || sig == nil {
		return 0, nil, ErrMalformed
	}
	return ts, sig, nil
}
