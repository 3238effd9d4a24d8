package devupstream_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/internal/devupstream"
)

const secret = "esig_devupstream-tests-signing-secret-00000"

func handler(t *testing.T) http.Handler {
	t.Helper()
	v, err := edgesign.NewVerifier(edgesign.VerifierConfig{Secrets: []string{secret}})
	require.NoError(t, err)
	return devupstream.Handler(v)
}

func edgeRequest(t *testing.T) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/v1/orders", nil)
	r.Header.Set("X-Request-Id", "req_1")
	r.Header.Set("X-Steller-Partner-Id", "ptr_1")
	r.Header.Set("X-Steller-Workspace-Id", "ws_1")
	r.Header.Set("X-Steller-Environment", "live")
	r.Header.Set("X-Steller-Key-Id", "key_1")
	s, err := edgesign.NewSigner([]string{secret})
	require.NoError(t, err)
	id := edgesign.FromHeaders(r.Method, r.URL.Path, r.Header)
	r.Header.Set("X-Steller-Signature", s.Sign(&id, time.Now()))
	return r
}

func TestEchoesWhatTheEdgeSent(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	handler(t).ServeHTTP(w, edgeRequest(t))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var body struct {
		Method           string
		Path             string
		IdentityHeaders  map[string]string `json:"identity_headers"`
		KeyHeaderReached bool              `json:"key_header_reached"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	assert.Equal(t, "POST", body.Method)
	assert.Equal(t, "/v1/orders", body.Path)
	assert.Equal(t, "ptr_1", body.IdentityHeaders["X-Steller-Partner-Id"])
	assert.False(t, body.KeyHeaderReached)
}

func TestRefusesRequestsThatBypassedTheEdge(t *testing.T) {
	t.Parallel()
	forged := edgeRequest(t)
	forged.Header.Set("X-Steller-Partner-Id", "ptr_other")
	for code, r := range map[string]*http.Request{
		edgesign.CodeMissing: httptest.NewRequest(http.MethodGet, "/v1/catalog", nil),
		edgesign.CodeInvalid: forged,
	} {
		w := httptest.NewRecorder()
		handler(t).ServeHTTP(w, r)
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.Contains(t, w.Body.String(), `"code":"`+code+`"`)
	}
}
