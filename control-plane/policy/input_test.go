package policy_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/policy"
)

func TestEveryOperationIsForAdminsOnly(t *testing.T) {
	t.Parallel()
	e := setup(t)
	v := upload(t, e, "seed", defaultFiles(t))
	id := fmt.Sprint(v.ID)
	reason := map[string]any{"reason": "rbac test"}
	ops := []struct {
		method, path string
		body         any
		adminStatus  int
	}{
		{http.MethodGet, "/v1/admin/policies", nil, http.StatusOK},
		{http.MethodGet, "/v1/admin/policies/active", nil, http.StatusOK},
		{http.MethodGet, "/v1/admin/policies/activations", nil, http.StatusOK},
		{http.MethodGet, "/v1/admin/policies/" + id, nil, http.StatusOK},
		{http.MethodPost, "/v1/admin/policies/" + id + "/validate", nil, http.StatusOK},
		{http.MethodPost, "/v1/admin/policies", map[string]any{"files": defaultFiles(t)}, http.StatusCreated},
		{http.MethodPost, "/v1/admin/policies/" + id + "/activate", reason, http.StatusOK},
		// The first activation has nothing before it: the admin gets past RBAC to a 409.
		{http.MethodPost, "/v1/admin/policies/rollback", reason, http.StatusConflict},
	}
	callers := []struct {
		as     string
		status int
	}{
		{"", http.StatusUnauthorized},
		{"owner", http.StatusForbidden},
		{"developer", http.StatusForbidden},
		{"finance", http.StatusForbidden},
	}
	before := []int{count(t, e.pool, "policy_versions"), count(t, e.pool, "policy_activations"), count(t, e.pool, "audit_log")}
	for _, op := range ops {
		for _, c := range callers {
			args := []any{}
			if c.as != "" {
				args = append(args, asHeader+": "+c.as)
			}
			if op.body != nil {
				args = append(args, op.body)
			}
			resp := e.api.Do(op.method, op.path, args...)
			assert.Equal(t, c.status, resp.Code, "%s %s as %q: %s", op.method, op.path, c.as, resp.Body.String())
			assert.Equal(t, "application/problem+json", resp.Header().Get("Content-Type"))
		}
	}
	after := []int{count(t, e.pool, "policy_versions"), count(t, e.pool, "policy_activations"), count(t, e.pool, "audit_log")}
	assert.Equal(t, before, after, "a refused caller changed something")

	for _, op := range ops {
		args := []any{asAdmin}
		if op.body != nil {
			args = append(args, op.body)
		}
		resp := e.api.Do(op.method, op.path, args...)
		assert.Equal(t, op.adminStatus, resp.Code, "%s %s as admin: %s", op.method, op.path, resp.Body.String())
	}
}

func TestBadInputIsAProblemAndWritesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	good := defaultFiles(t)
	gz := func(raw []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(raw)
		_ = zw.Close()
		return buf.Bytes()
	}
	const jsonCT, gzipCT = "Content-Type: application/json", "Content-Type: application/gzip"
	cases := []struct {
		name   string
		path   string
		ct     string
		body   []byte
		status int
		want   string
	}{
		{"malformed JSON", "/v1/admin/policies", jsonCT, []byte(`{"files": {`), http.StatusBadRequest, "malformed JSON"},
		{"unknown field", "/v1/admin/policies", jsonCT, jsonOf(t, map[string]any{"files": good, "colour": "blue"}), http.StatusUnprocessableEntity, `"location":"body.colour"`},
		{"files missing", "/v1/admin/policies", jsonCT, []byte(`{"description": "x"}`), http.StatusUnprocessableEntity, "property files"},
		{"files empty", "/v1/admin/policies", jsonCT, []byte(`{"files": {}}`), http.StatusUnprocessableEntity, "body.files"},
		{"file not a string", "/v1/admin/policies", jsonCT, []byte(`{"files": {"a/a.rego": 7, "b/b.rego": 8}}`), http.StatusUnprocessableEntity, `"location":"body.files.b/b.rego"`},
		{"description too long", "/v1/admin/policies", jsonCT, jsonOf(t, map[string]any{"files": good, "description": strings.Repeat("d", 501)}), http.StatusUnprocessableEntity, "body.description"},
		{"path traversal", "/v1/admin/policies", jsonCT, jsonOf(t, map[string]any{"files": with(good, map[string]string{"../evil.rego": "package evil"})}), http.StatusUnprocessableEntity, "relative and clean"},
		{"absolute path", "/v1/admin/policies", jsonCT, jsonOf(t, map[string]any{"files": map[string]string{"/abs/a.rego": "package abs"}}), http.StatusUnprocessableEntity, "relative and clean"},
		{"not a policy file", "/v1/admin/policies", jsonCT, jsonOf(t, map[string]any{"files": with(good, map[string]string{"README.md": "hi"})}), http.StatusUnprocessableEntity, "README.md"},
		{"no rego", "/v1/admin/policies", jsonCT, jsonOf(t, map[string]any{"files": map[string]string{"steller/edge/data.json": "{}"}}), http.StatusUnprocessableEntity, "at least one .rego"},
		{"oversized JSON", "/v1/admin/policies", jsonCT, jsonOf(t, map[string]any{"files": with(good, map[string]string{"big/big.rego": strings.Repeat("#", policy.DefaultMaxUploadBytes)})}), http.StatusRequestEntityTooLarge, "too large"},
		{"oversized tar.gz", "/v1/admin/policies", gzipCT, bytes.Repeat([]byte{0x1f}, policy.DefaultMaxUploadBytes+1), http.StatusRequestEntityTooLarge, "too large"},
		{"empty body", "/v1/admin/policies", gzipCT, nil, http.StatusBadRequest, "required"},
		{"not gzip", "/v1/admin/policies", gzipCT, []byte("plain text, no gzip"), http.StatusUnprocessableEntity, "not a gzip"},
		{"gzip but not tar", "/v1/admin/policies", gzipCT, gz([]byte(strings.Repeat("not a tar archive ", 64))), http.StatusUnprocessableEntity, "not a tar"},
		{"tar.gz without rego", "/v1/admin/policies", gzipCT, tarGz(t, &tar.Header{Name: "steller/data.json", Typeflag: tar.TypeReg, Size: 2}), http.StatusUnprocessableEntity, "at least one .rego"},
		{"tar.gz with a symlink", "/v1/admin/policies", gzipCT, tarGz(t, &tar.Header{Name: "a.rego", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}), http.StatusUnprocessableEntity, "regular files"},
		{"tar.gz that inflates past the limit", "/v1/admin/policies", gzipCT, tarGz(t, &tar.Header{Name: "huge.rego", Typeflag: tar.TypeReg, Size: 5 << 20}), http.StatusUnprocessableEntity, "larger than"},
		{"unsupported media type", "/v1/admin/policies", "Content-Type: text/plain", []byte("package x"), http.StatusUnsupportedMediaType, "application/gzip"},
		{"activate without reason", "/v1/admin/policies/1/activate", jsonCT, []byte(`{}`), http.StatusUnprocessableEntity, "reason"},
		{"activate with empty reason", "/v1/admin/policies/1/activate", jsonCT, []byte(`{"reason": ""}`), http.StatusUnprocessableEntity, "body.reason"},
		{"activate with unknown field", "/v1/admin/policies/1/activate", jsonCT, []byte(`{"reason": "r", "force": true}`), http.StatusUnprocessableEntity, "force"},
		{"rollback with malformed JSON", "/v1/admin/policies/rollback", jsonCT, []byte(`{"reason": `), http.StatusBadRequest, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := e.api.Post(tc.path, asAdmin, tc.ct, bytes.NewReader(tc.body))
			require.Equal(t, tc.status, resp.Code, resp.Body.String())
			assert.Equal(t, "application/problem+json", resp.Header().Get("Content-Type"))
			assert.Contains(t, resp.Body.String(), tc.want)
		})
	}
	t.Cleanup(func() {
		// Runs after the parallel subtests: not one row may have been written.
		for _, table := range []string{"policy_versions", "policy_activations", "audit_log"} {
			assert.Zero(t, count(t, e.pool, table), table)
		}
	})
}

func jsonOf(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return raw
}
