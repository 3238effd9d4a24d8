package devupstream_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/devupstream"
)

func TestEchoesWhatTheEdgeSent(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "/v1/orders", nil)
	r.Header.Set("X-Steller-Partner-Id", "ptr_1")
	r.Header.Set("X-Steller-Environment", "test")
	w := httptest.NewRecorder()
	devupstream.Handler().ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code)
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
	w := httptest.NewRecorder()
	devupstream.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/catalog", nil))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
}
