package fault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/control-plane/fault"
)

// lockedBuffer collects log output written from the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type limitInput struct {
	Limit int `query:"limit" minimum:"1" maximum:"10"`
}

// setup serves one operation per error kind through a real Huma API, with the request
// context fault.WithRequest gives.
func setup(t *testing.T) (*httptest.Server, *lockedBuffer, huma.API) {
	t.Helper()
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("fault test", "1"))
	cases := map[string]error{
		"invalid":   fault.Invalid("body.email", "not an email address", "x@"),
		"notfound":  fault.New(fault.ErrNotFound, "no such key"),
		"coded":     fault.Coded(fault.ErrConflict, "last_owner", "the last owner cannot leave"),
		"internal":  errors.New("pq: connection reset by peer at 10.0.0.7"),
		"policy":    fault.Wrap(fault.ErrUnavailable, fault.CodePolicyError, "authorization is unavailable", errors.New("rego: eval_conflict_error")),
		"forbidden": fault.New(fault.ErrForbidden, "role finance may not logs.read"),
	}
	for name, err := range cases {
		huma.Register(api, huma.Operation{OperationID: name, Method: http.MethodGet, Path: "/" + name},
			func(context.Context, *limitInput) (*struct{}, error) { return nil, err })
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req_test")
		mux.ServeHTTP(w, r.WithContext(fault.WithRequest(r.Context(), "req_test", log)))
	}))
	t.Cleanup(srv.Close)
	return srv, logs, api
}

func get(t *testing.T, url string) (int, http.Header, problem.Document, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	var raw bytes.Buffer
	_, err = raw.ReadFrom(resp.Body)
	require.NoError(t, err)
	var doc problem.Document
	require.NoError(t, json.Unmarshal(raw.Bytes(), &doc), raw.String())
	var fields map[string]any
	require.NoError(t, json.Unmarshal(raw.Bytes(), &fields))
	return resp.StatusCode, resp.Header, doc, fields
}

func TestEveryErrorIsOneProblemShape(t *testing.T) {
	t.Parallel()
	srv, logs, _ := setup(t)
	cases := []struct {
		path, code string
		status     int
		detail     string
	}{
		{"/invalid", "validation_failed", 422, "not an email address"},
		{"/notfound", "not_found", 404, "no such key"},
		{"/coded", "last_owner", 409, "the last owner cannot leave"},
		{"/forbidden", "forbidden", 403, "role finance may not logs.read"},
		{"/policy", "policy_error", 503, "authorization is unavailable"},
		{"/internal", "internal_error", 500, ""},
		{"/invalid?limit=99", "validation_failed", 422, ""},
	}
	for _, tc := range cases {
		status, h, doc, _ := get(t, srv.URL+tc.path)
		assert.Equal(t, tc.status, status, tc.path)
		assert.Equal(t, problem.ContentType, h.Get("Content-Type"), tc.path)
		assert.Equal(t, tc.code, doc.Code, tc.path)
		assert.Equal(t, problem.TypeBase+tc.code, doc.Type, tc.path)
		assert.Equal(t, "req_test", doc.RequestID, tc.path)
		if tc.detail != "" {
			assert.Equal(t, tc.detail, doc.Detail, tc.path)
		}
	}
	_, _, invalid, _ := get(t, srv.URL+"/invalid")
	require.Len(t, invalid.Errors, 1)
	assert.Equal(t, "body.email", invalid.Errors[0].Location)

	// A 500 never shows its cause, and is logged once with it and the request id.
	_, _, internal, fields := get(t, srv.URL+"/internal")
	assert.NotContains(t, internal.Detail, "10.0.0.7")
	assert.NotContains(t, fields, "errors")
	out := logs.String()
	assert.Equal(t, 2, strings.Count(out, "connection reset by peer"), "one log line per failed request (two requests)")
	assert.Contains(t, out, `"request_id":"req_test"`)
	assert.Contains(t, out, "rego: eval_conflict_error", "a policy failure's cause is logged too")
	assert.NotContains(t, out, "no such key", "4xx are not logged as failures")
}

func TestTheErrorSchemaDeclaresEveryField(t *testing.T) {
	t.Parallel()
	_, _, api := setup(t)
	schema := api.OpenAPI().Components.Schemas.Map()["ErrorModel"]
	require.NotNil(t, schema, "Huma names the error schema after its Go type's registry name")
	for _, f := range []string{"type", "title", "status", "detail", "code", "request_id", "errors"} {
		assert.Contains(t, schema.Properties, f)
	}
}
