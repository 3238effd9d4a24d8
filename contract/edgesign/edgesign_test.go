package edgesign_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/contract/problem"
)

const (
	secretA = "esig_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	secretB = "esig_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

var (
	t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	id = edgesign.Identity{
		Method: "POST", Path: "/v1/orders", RequestID: "req_01", PartnerID: "ptr_1",
		WorkspaceID: "wsp_1", Environment: "test", KeyID: "key_1",
	}
)

func signer(t *testing.T, secrets ...string) *edgesign.Signer {
	t.Helper()
	s, err := edgesign.NewSigner(secrets)
	require.NoError(t, err)
	return s
}

func verifier(t *testing.T, now time.Time, secrets ...string) *edgesign.Verifier {
	t.Helper()
	v, err := edgesign.NewVerifier(edgesign.VerifierConfig{Secrets: secrets, Clock: func() time.Time { return now }})
	require.NoError(t, err)
	return v
}

func TestASignedIdentityVerifies(t *testing.T) {
	t.Parallel()
	header := signer(t, secretA).Sign(&id, t0)
	assert.Regexp(t, `^t=`+strconv.FormatInt(t0.Unix(), 10)+`,v1=[A-Za-z0-9+/]{43}=$`, header)
	assert.NoError(t, verifier(t, t0, secretA).Verify(&id, header))
}

func TestEveryFieldIsCovered(t *testing.T) {
	t.Parallel()
	header := signer(t, secretA).Sign(&id, t0)
	v := verifier(t, t0, secretA)
	for name, change := range map[string]func(*edgesign.Identity){
		"method":      func(i *edgesign.Identity) { i.Method = "GET" },
		"path":        func(i *edgesign.Identity) { i.Path = "/v1/balance" },
		"request id":  func(i *edgesign.Identity) { i.RequestID = "req_02" },
		"partner":     func(i *edgesign.Identity) { i.PartnerID = "ptr_2" },
		"workspace":   func(i *edgesign.Identity) { i.WorkspaceID = "wsp_2" },
		"environment": func(i *edgesign.Identity) { i.Environment = "live" },
		"key id":      func(i *edgesign.Identity) { i.KeyID = "key_2" },
	} {
		tampered := id
		change(&tampered)
		assert.ErrorIs(t, v.Verify(&tampered, header), edgesign.ErrMismatch, name)
	}
	// Moving a field boundary keeps the canonical string, so an identity with a newline in a
	// field never verifies: partner "a", workspace "b\nc" must not pass as partner "a\nb",
	// workspace "c".
	split := id
	split.PartnerID, split.WorkspaceID = "a", "b\nc"
	joined := id
	joined.PartnerID, joined.WorkspaceID = "a\nb", "c"
	assert.ErrorIs(t, v.Verify(&joined, signer(t, secretA).Sign(&split, t0)), edgesign.ErrMismatch)
	assert.ErrorIs(t, v.Verify(&split, signer(t, secretA).Sign(&split, t0)), edgesign.ErrMismatch)

	// The timestamp is covered too: the same MAC under another t does not verify.
	moved := strings.Replace(header, "t="+strconv.FormatInt(t0.Unix(), 10), "t="+strconv.FormatInt(t0.Unix()+1, 10), 1)
	assert.ErrorIs(t, v.Verify(&id, moved), edgesign.ErrMismatch)
}

func TestOnlyFreshSignaturesVerify(t *testing.T) {
	t.Parallel()
	s := signer(t, secretA)
	for _, c := range []struct {
		name   string
		signed time.Time
		want   error
	}{
		{"now", t0, nil},
		{"at the window's edge, past", t0.Add(-edgesign.DefaultWindow), nil},
		{"at the window's edge, future", t0.Add(edgesign.DefaultWindow), nil},
		{"replayed after the window", t0.Add(-edgesign.DefaultWindow - time.Second), edgesign.ErrStale},
		{"from far in the future", t0.Add(edgesign.DefaultWindow + time.Second), edgesign.ErrStale},
		{"an hour old", t0.Add(-time.Hour), edgesign.ErrStale},
	} {
		err := verifier(t, t0, secretA).Verify(&id, s.Sign(&id, c.signed))
		if c.want == nil {
			assert.NoError(t, err, c.name)
		} else {
			assert.ErrorIs(t, err, c.want, c.name)
		}
	}
	short, err := edgesign.NewVerifier(edgesign.VerifierConfig{Secrets: []string{secretA}, Window: 5 * time.Second, Clock: func() time.Time { return t0 }})
	require.NoError(t, err)
	assert.ErrorIs(t, short.Verify(&id, s.Sign(&id, t0.Add(-6*time.Second))), edgesign.ErrStale)
}

func TestUnsignedAndMalformedHeadersAreRefused(t *testing.T) {
	t.Parallel()
	v := verifier(t, t0, secretA)
	good := signer(t, secretA).Sign(&id, t0)
	ts := "t=" + strconv.FormatInt(t0.Unix(), 10)
	_, mac, _ := strings.Cut(good, ",")
	assert.ErrorIs(t, v.Verify(&id, ""), edgesign.ErrUnsigned)
	for _, h := range []string{
		"garbage", ts, mac, ts + ",v1=", ts + ",v1=not-base64!", ts + ",v1=AAAA",
		"t=abc," + mac, "t=-5," + mac, "t=," + mac, ts + "," + mac + ",junk",
	} {
		assert.ErrorIs(t, v.Verify(&id, h), edgesign.ErrMalformed, h)
	}
	// A later version's signature beside v1 is ignored, not refused.
	assert.NoError(t, v.Verify(&id, good+",v2=whatever"))
	// Signed with a secret the upstream does not hold: a forgery.
	assert.ErrorIs(t, v.Verify(&id, signer(t, secretB).Sign(&id, t0)), edgesign.ErrMismatch)
}

// Rotation from A to B with both live: upstreams first take [A, B] and accept either; then
// edges take [B, A] and sign with B; then everyone takes [B]. No step refuses a request
// signed by an edge of the step before.
func TestRotationWithBothSecretsLive(t *testing.T) {
	t.Parallel()
	oldEdge, newEdge := signer(t, secretA), signer(t, secretB, secretA)
	before, during, after := verifier(t, t0, secretA), verifier(t, t0, secretA, secretB), verifier(t, t0, secretB)

	byOld, byNew := oldEdge.Sign(&id, t0), newEdge.Sign(&id, t0)
	assert.NoError(t, before.Verify(&id, byOld))
	assert.NoError(t, during.Verify(&id, byOld), "upstreams that hold both accept the old edges")
	assert.NoError(t, during.Verify(&id, byNew), "and the new ones")
	assert.NoError(t, after.Verify(&id, byNew))
	assert.ErrorIs(t, after.Verify(&id, byOld), edgesign.ErrMismatch, "once A is retired it no longer verifies")
	assert.ErrorIs(t, before.Verify(&id, byNew), edgesign.ErrMismatch, "an upstream that never took B refuses it")
}

func TestSecretsAreChecked(t *testing.T) {
	t.Parallel()
	for name, secrets := range map[string][]string{
		"none":      nil,
		"too short": {"short"},
		"three":     {secretA, secretB, secretA + "c"},
		"the same":  {secretA, secretA},
	} {
		_, err := edgesign.NewSigner(secrets)
		assert.Error(t, err, name)
		_, err = edgesign.NewVerifier(edgesign.VerifierConfig{Secrets: secrets})
		assert.Error(t, err, name)
	}
	_, err := edgesign.NewVerifier(edgesign.VerifierConfig{Secrets: []string{secretA}, Window: -time.Second})
	assert.Error(t, err)

	s1, err := edgesign.GenerateSecret()
	require.NoError(t, err)
	s2, err := edgesign.GenerateSecret()
	require.NoError(t, err)
	assert.NotEqual(t, s1, s2)
	assert.True(t, strings.HasPrefix(s1, "esig_"))
	_, err = edgesign.NewSigner([]string{s1, s2})
	assert.NoError(t, err)
}

// signedRequest is the request an edge forwards for id.
func signedRequest(t *testing.T, target string, s *edgesign.Signer, at time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(id.Method, target, nil)
	r.Header.Set(identity.HeaderRequestID, id.RequestID)
	r.Header.Set(identity.HeaderPartnerID, id.PartnerID)
	r.Header.Set(identity.HeaderWorkspaceID, id.WorkspaceID)
	r.Header.Set(identity.HeaderEnvironment, id.Environment)
	r.Header.Set(identity.HeaderKeyID, id.KeyID)
	signed := id
	signed.Path = r.URL.Path
	r.Header.Set(identity.HeaderSignature, s.Sign(&signed, at))
	return r
}

func TestRequireServesOnlySignedRequests(t *testing.T) {
	t.Parallel()
	v := verifier(t, t0, secretA)
	var seen edgesign.Identity
	h := v.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = edgesign.FromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := serve(signedRequest(t, "/v1/orders?x=1", signer(t, secretA), t0))
	require.Equal(t, http.StatusNoContent, w.Code)
	assert.Equal(t, id, seen)

	forged := signedRequest(t, "/v1/orders", signer(t, secretA), t0)
	forged.Header.Set(identity.HeaderPartnerID, "ptr_victim")
	unsigned := signedRequest(t, "/v1/orders", signer(t, secretA), t0)
	unsigned.Header.Del(identity.HeaderSignature)
	for code, r := range map[string]*http.Request{
		edgesign.CodeInvalid: forged,
		edgesign.CodeMissing: unsigned,
		edgesign.CodeStale:   signedRequest(t, "/v1/orders", signer(t, secretA), t0.Add(-time.Hour)),
	} {
		w := serve(r)
		assert.Equal(t, http.StatusUnauthorized, w.Code, code)
		assert.Equal(t, problem.ContentType, w.Header().Get("Content-Type"))
		assert.Contains(t, w.Body.String(), `"code":"`+code+`"`)
		assert.Contains(t, w.Body.String(), `"request_id":"req_01"`)
	}
}

func TestAnEscapedPathVerifiesInEitherForm(t *testing.T) {
	t.Parallel()
	v := verifier(t, t0, secretA)
	s := signer(t, secretA)
	// The edge may have signed the path decoded (the gateway) or as sent (Kong); the
	// upstream accepts either form of the path it received, and no other path.
	for _, path := range []string{"/v1/orders/a%2Fb", "/v1/orders/a/b"} {
		signed := id
		signed.Path = path
		req := signedRequest(t, "/v1/orders/a%2Fb", s, t0)
		req.Header.Set(identity.HeaderSignature, s.Sign(&signed, t0))
		got, err := v.VerifyRequest(req)
		require.NoError(t, err, path)
		assert.Equal(t, path, got.Path)
	}
	other := id
	other.Path = "/v1/orders/a%2Fc"
	req := signedRequest(t, "/v1/orders/a%2Fb", s, t0)
	req.Header.Set(identity.HeaderSignature, s.Sign(&other, t0))
	_, err := v.VerifyRequest(req)
	assert.ErrorIs(t, err, edgesign.ErrMismatch)
}

func BenchmarkSign(b *testing.B) {
	s, err := edgesign.NewSigner([]string{secretA})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Sign(&id, t0)
	}
}

func BenchmarkVerify(b *testing.B) {
	s, err := edgesign.NewSigner([]string{secretA})
	require.NoError(b, err)
	v, err := edgesign.NewVerifier(edgesign.VerifierConfig{Secrets: []string{secretB, secretA}, Clock: func() time.Time { return t0 }})
	require.NoError(b, err)
	header := s.Sign(&id, t0)
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(&id, header); err != nil {
			b.Fatal(err)
		}
	}
}
