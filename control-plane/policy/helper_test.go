package policy_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/migration"
	"github.com/steller/platform/control-plane/policy"
	"github.com/steller/platform/internal/testenv"
	"github.com/steller/platform/policies"
)

const edgeToken = "edge-token-for-tests"

// asHeader names the test principal of a request: admin, owner, developer or finance;
// absent means anonymous.
const asHeader = "X-Test-As"

var principals = map[string]auth.Principal{
	"admin":     {Kind: auth.KindAdmin, ID: "adm_ops", Email: "ops@steller.test"},
	"owner":     {Kind: auth.KindUser, ID: "usr_owner", PartnerID: "ptr_1", WorkspaceID: "ws_1", Role: auth.RoleOwner},
	"developer": {Kind: auth.KindUser, ID: "usr_dev", PartnerID: "ptr_1", WorkspaceID: "ws_1", Role: auth.RoleDeveloper},
	"finance":   {Kind: auth.KindUser, ID: "usr_fin", PartnerID: "ptr_1", WorkspaceID: "ws_1", Role: auth.RoleFinance},
}

const asAdmin = asHeader + ": admin"

// adminsOnly is the RBAC checker of these tests: admins may do everything, nobody else
// anything (the real Rego policy is the accounts helper's).
type adminsOnly struct{}

func (adminsOnly) Check(_ context.Context, p auth.Principal, action string) error {
	if p.Kind == auth.KindAdmin {
		return nil
	}
	return fault.New(fault.ErrForbidden, "only platform admins may "+action)
}

type env struct {
	pool    *pgxpool.Pool
	svc     *policy.Service
	bundles *policy.BundleServer
	api     humatest.TestAPI
	handler http.Handler
}

func setup(t *testing.T) env {
	t.Helper()
	pool := testenv.Postgres(t)
	logger := slog.New(slog.DiscardHandler)
	_, err := migration.Up(context.Background(), pool, logger)
	require.NoError(t, err)
	bundles, err := policy.NewBundleServer(policy.BundleServerConfig{Pool: pool, Logger: logger, EdgeToken: edgeToken})
	require.NoError(t, err)
	svc, err := policy.NewService(policy.Config{Pool: pool, Logger: logger, OnActivate: bundles.Refresh})
	require.NoError(t, err)
	handler, api := humatest.New(t)
	api.UseMiddleware(func(ctx huma.Context, next func(huma.Context)) {
		if p, ok := principals[ctx.Header(asHeader)]; ok {
			ctx = huma.WithContext(ctx, auth.WithPrincipal(ctx.Context(), p))
		}
		next(ctx)
	})
	policy.Register(api, policy.Deps{Service: svc, Checker: adminsOnly{}})
	return env{pool: pool, svc: svc, bundles: bundles, api: api, handler: handler}
}

// defaultFiles is the embedded default policy tree as upload files.
func defaultFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := fs.WalkDir(policies.DefaultSource(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := fs.ReadFile(policies.DefaultSource(), p)
		files[p] = string(raw)
		return err
	})
	require.NoError(t, err)
	require.Contains(t, files, "steller/edge/edge.rego")
	return files
}

// with returns files with changes applied; an empty content deletes the path.
func with(files map[string]string, changes map[string]string) map[string]string {
	out := make(map[string]string, len(files))
	for k, v := range files {
		out[k] = v
	}
	for k, v := range changes {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// denySettlementsFiles is the default policy with settlements.list open to no
// environment, so every key is denied it, and a Rego test saying so.
func denySettlementsFiles(t *testing.T) map[string]string {
	t.Helper()
	files := defaultFiles(t)
	var data map[string]map[string]map[string]any
	require.NoError(t, json.Unmarshal([]byte(files["steller/edge/data.json"]), &data))
	require.Contains(t, data["routes"], "settlements.list")
	data["routes"]["settlements.list"]["environments"] = []string{}
	raw, err := json.Marshal(data)
	require.NoError(t, err)
	return with(files, map[string]string{
		"steller/edge/data.json":      string(raw),
		"steller/edge/edge_test.rego": "", // its every-route test no longer holds
		"steller/edge/deny_test.rego": `package steller.edge_deny_test

import data.steller.edge

test_settlements_denied_even_to_star_keys if {
	inp := {"method": "GET", "path": "/v1/settlements", "route": "settlements.list", "environment": "live",
		"roles": ["*"], "partner_id": "ptr_1", "partner_status": "active"}
	edge.decision.allow == false with input as inp
}
`,
	})
}

// Trees that fail validation, each with a word the error must contain.
func syntaxErrorFiles(t *testing.T) map[string]string {
	return with(defaultFiles(t), map[string]string{"steller/edge/edge.rego": "package steller.edge\n\ndecision := {\n"})
}

func failingTestFiles(t *testing.T) map[string]string {
	return with(defaultFiles(t), map[string]string{
		"steller/edge/fail_test.rego": "package steller.edge_fail_test\n\ntest_one_is_two if {\n\t1 == 2\n}\n",
	})
}

func noDecisionFiles(*testing.T) map[string]string {
	return map[string]string{"steller/other/other.rego": "package steller.other\n\nallow := true\n"}
}

// tarGz writes entries as a tar.gz of filler content, for archives that are no bundle.
func tarGz(t *testing.T, entries ...*tar.Header) []byte {
	t.Helper()
	contents := make([][]byte, len(entries))
	for i, h := range entries {
		contents[i] = bytes.Repeat([]byte("x"), int(h.Size))
	}
	return tarGzWith(t, entries, contents)
}

// tarGzWith writes entries with their contents as a tar.gz.
func tarGzWith(t *testing.T, entries []*tar.Header, contents [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for i, h := range entries {
		require.NoError(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write(contents[i])
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// upload posts files as the JSON form and returns the created version.
func upload(t *testing.T, e env, description string, files map[string]string) policy.Version {
	t.Helper()
	resp := e.api.Post("/v1/admin/policies", asAdmin, map[string]any{"description": description, "files": files})
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	return decode[policy.Version](t, resp)
}

func activate(t *testing.T, e env, id int64, reason string) *httptest.ResponseRecorder {
	t.Helper()
	return e.api.Post("/v1/admin/policies/"+strconv.FormatInt(id, 10)+"/activate", asAdmin, map[string]any{"reason": reason})
}

func decode[T any](t *testing.T, resp *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &v), resp.Body.String())
	return v
}

// auditRow is one audit_log entry.
type auditRow struct {
	ActorKind string         `db:"actor_kind"`
	ActorID   string         `db:"actor_id"`
	Action    string         `db:"action"`
	Target    string         `db:"target"`
	Details   map[string]any `db:"details"`
}

func auditTrail(t *testing.T, pool *pgxpool.Pool) []auditRow {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT actor_kind, actor_id, action, target, details FROM audit_log ORDER BY id`)
	require.NoError(t, err)
	list, err := pgx.CollectRows(rows, pgx.RowToStructByName[auditRow])
	require.NoError(t, err)
	return list
}

func count(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n))
	return n
}

func actions(trail []auditRow) []string {
	out := make([]string, len(trail))
	for i, r := range trail {
		out[i] = r.Action
	}
	return out
}
