package growth_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/growthquery"
	"github.com/steller/platform/control-plane/api/apitest"
	"github.com/steller/platform/control-plane/growth"
)

type problemDoc struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
	} `json:"errors"`
}

// Bad input is a 422 problem naming the parameter, with a code of its own where the
// schema cannot say it; nothing reaches the stores.
func TestBadInputIsAProblem(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, err := e.Pool.Exec(context.Background(), `INSERT INTO partners (id, company, signup_referral_code) VALUES ('ptr_ref', 'Ref', 'REF-A')`)
	require.NoError(t, err)
	ok := map[string]string{"from": "2026-01-01", "to": "2026-02-01", "interval": "day"}
	with := func(k, v string) map[string]string {
		q := map[string]string{}
		for a, b := range ok {
			q[a] = b
		}
		if v == "" {
			delete(q, k)
		} else {
			q[k] = v
		}
		return q
	}
	cases := []struct {
		name     string
		q        map[string]string
		code     string
		location string
	}{
		{"missing from", with("from", ""), "validation_failed", "query.from"},
		{"missing to", with("to", ""), "validation_failed", "query.to"},
		{"missing interval", with("interval", ""), "validation_failed", "query.interval"},
		{"interval hour", with("interval", "hour"), "validation_failed", "query.interval"},
		{"not a day", with("from", "2026-02-30"), "validation_failed", "query.from"},
		{"a time", with("to", "2026-02-01T00:00:00Z"), "validation_failed", "query.to"},
		{"reversed", with("to", "2025-12-01"), growth.CodeInvalidRange, "query.to"},
		{"empty", with("to", "2026-01-01"), growth.CodeInvalidRange, "query.to"},
		{"over ten years", map[string]string{"from": "2010-01-01", "to": "2026-01-01", "interval": "month"}, growth.CodeInvalidRange, "query.to"},
		{"401 days by day", map[string]string{"from": "2025-01-01", "to": "2026-02-06", "interval": "day"}, growth.CodeIntervalTooFine, "query.interval"},
		{"401 weeks by week", map[string]string{"from": "2019-01-07", "to": "2026-09-14", "interval": "week"}, growth.CodeIntervalTooFine, "query.interval"},
		{"unknown source", with("source", "REF-NOPE"), growth.CodeUnknownSource, "query.source"},
		{"control character in source", with("source", "REF\x01"), "validation_failed", "query.source"},
		{"unknown split", with("split", "daily"), "validation_failed", "query.split"},
		{"unknown table", with("table", "everything"), "validation_failed", "query.table"},
		{"csv without a table", with("format", "csv"), "validation_failed", "query.table"},
	}
	for _, tc := range cases {
		res := e.get(query(tc.q), "")
		require.Equal(t, http.StatusUnprocessableEntity, res.Code, "%s: %s", tc.name, res.Body)
		assert.Equal(t, "application/problem+json", res.Header().Get("Content-Type"), tc.name)
		var p problemDoc
		require.NoError(t, json.Unmarshal(res.Body.Bytes(), &p), tc.name)
		assert.Equal(t, tc.code, p.Code, "%s: %s", tc.name, res.Body)
		require.NotEmpty(t, p.Errors, "%s: %s", tc.name, res.Body)
		assert.True(t, strings.HasPrefix(p.Errors[0].Location, tc.location), "%s: %s", tc.name, res.Body)
		assert.NotEmpty(t, p.Detail, tc.name)
	}
	// The bounds themselves are fine: 400 days by day, 400 weeks by week, a known source,
	// and none while some partner has no code (the admin's own signup partners have none).
	for _, q := range []map[string]string{
		{"from": "2025-01-01", "to": "2026-02-05", "interval": "day"},
		{"from": "2019-01-07", "to": "2026-09-07", "interval": "week"},
		with("source", "REF-A"),
		{"from": "2016-01-01", "to": "2026-01-01", "interval": "month"},
	} {
		res := e.get(query(q), "")
		assert.Equal(t, http.StatusOK, res.Code, "%v: %s", q, res.Body)
	}
	res := e.get(query(with("source", "none")), "")
	assert.Equal(t, http.StatusUnprocessableEntity, res.Code, "no partner without a code yet: %s", res.Body)
	_, err = e.Pool.Exec(context.Background(), `INSERT INTO partners (id, company) VALUES ('ptr_plain', 'Plain')`)
	require.NoError(t, err)
	res = e.get(query(with("source", "none")), "")
	assert.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
}

// Only platform admins read growth: partner members get 403 whatever their role, and
// anonymous callers 401.
func TestOnlyPlatformAdminsReadGrowth(t *testing.T) {
	t.Parallel()
	e := setup(t)
	path := query(map[string]string{"from": "2026-01-01", "to": "2026-02-01", "interval": "week"})
	w := e.NewWorkspace("Not an admin")
	for _, role := range []string{"owner", "developer", "finance"} {
		token := w.Token
		if role != "owner" {
			token = e.AddMember(w.WorkspaceID, role).Token
		}
		res := e.get(path, "", token)
		assert.Equal(t, http.StatusForbidden, res.Code, "%s: %s", role, res.Body)
	}
	res := e.get(path, "", "")
	assert.Equal(t, http.StatusUnauthorized, res.Code, "%s", res.Body)
	assert.Equal(t, http.StatusOK, e.get(path, "").Code)
}

// failingWarehouse is a ClickHouse that does not answer.
type failingWarehouse struct{}

func (failingWarehouse) ActivePartners(context.Context, []growthquery.Segment, string, time.Time, time.Time) ([]growthquery.Active, error) {
	return nil, errors.New("clickhouse: connection refused")
}

func (failingWarehouse) Orders(context.Context, []growthquery.Segment, string, time.Time, time.Time) ([]growthquery.Order, error) {
	return nil, errors.New("clickhouse: connection refused")
}

// A ClickHouse that does not answer is a 503 that shows no cause, never a partial report.
func TestClickHouseDownIsUnavailable(t *testing.T) {
	t.Parallel()
	a := apitest.New(t)
	svc, err := growth.New(growth.Config{Pool: a.Pool, Warehouse: failingWarehouse{}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	growth.Register(a.API.Huma(), growth.Deps{Growth: svc, RBAC: a.API.Checker()})
	e := &env{Env: a, admin: a.AdminSession()}
	res := e.get(query(map[string]string{"from": "2026-01-01", "to": "2026-02-01", "interval": "week"}), "")
	require.Equal(t, http.StatusServiceUnavailable, res.Code, "%s", res.Body)
	var p problemDoc
	require.NoError(t, json.Unmarshal(res.Body.Bytes(), &p))
	assert.Equal(t, "unavailable", p.Code)
	assert.NotContains(t, res.Body.String(), "connection refused")
}

// Every problem code of this package has its row in README.md's problem table.
func TestEveryCodeIsInTheProblemTable(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, code := range []string{growth.CodeInvalidRange, growth.CodeIntervalTooFine, growth.CodeUnknownSource} {
		assert.True(t, strings.Contains(string(raw), "| `"+code+"` |"), "README.md's problem table has no row for %s", code)
	}
}
