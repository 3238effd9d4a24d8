package logquery_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/testenv"
)

func clock(day, h, m, s int) time.Time { return time.Date(2026, 3, day, h, m, s, 0, time.UTC) }

// usageEvents: ptr_u's six requests (u3 and u4 are redelivered), ptr_v's two, and
// ptr_many's 78 failures: route rK has K requests, all 500.
func usageEvents() (first, redelivered []event) {
	first = []event{
		{id: "u1", partner: "ptr_u", at: clock(10, 10, 0, 5), env: "test", route: "catalog.list", status: 200, latencyUs: 1000},
		{id: "u2", partner: "ptr_u", at: clock(10, 10, 0, 40), env: "test", route: "catalog.list", status: 500, latencyUs: 3000},
		{id: "u3", partner: "ptr_u", at: clock(10, 10, 1, 10), env: "live", route: "orders.create", status: 201, latencyUs: 2000},
		{id: "u4", partner: "ptr_u", at: clock(10, 10, 59, 59), env: "live", route: "orders.create", status: 402, latencyUs: 2000},
		{id: "u5", partner: "ptr_u", at: clock(10, 11, 30, 0), env: "test", route: "catalog.list", status: 200, latencyUs: 1000},
		{id: "u6", partner: "ptr_u", at: clock(11, 0, 10, 0), env: "test", route: "orders.get", status: 404, latencyUs: 5000},
		{id: "v1", partner: "ptr_v", at: clock(10, 10, 0, 10), env: "test", route: "catalog.list", status: 200, latencyUs: 4000},
		{id: "v2", partner: "ptr_v", at: clock(10, 10, 30, 0), env: "live", route: "catalog.list", status: 500, latencyUs: 4000},
	}
	for k := 1; k <= 12; k++ {
		for j := range k {
			first = append(first, event{id: fmt.Sprintf("m%02d_%02d", k, j), partner: "ptr_many", at: clock(10, 10, 20, j),
				env: "live", route: fmt.Sprintf("r%02d", k), status: 500, latencyUs: 1000})
		}
	}
	return first, []event{first[2], first[3]}
}

func seedUsage(t *testing.T) suite {
	t.Helper()
	s := setup(t)
	first, again := usageEvents()
	s.insert(t, first...)
	s.insert(t, again...)
	return s
}

// dense expands the non-zero points of a series over every bucket and environment.
func dense(buckets []time.Time, envs []string, nonZero ...logquery.Point) []logquery.Point {
	var out []logquery.Point
	for _, b := range buckets {
		for _, env := range envs {
			p := logquery.Point{Bucket: b, Environment: env}
			for _, nz := range nonZero {
				if nz.Bucket.Equal(b) && nz.Environment == env {
					p = nz
				}
			}
			out = append(out, p)
		}
	}
	return out
}

func TestUsageOfOnePartner(t *testing.T) {
	t.Parallel()
	s := seedUsage(t)
	ctx := context.Background()
	both := []string{"live", "test"}

	q := logquery.UsageQuery{PartnerID: "ptr_u", From: clock(10, 10, 0, 0), To: clock(11, 1, 0, 0), Interval: logquery.IntervalHour}
	u, err := s.store.Usage(ctx, q)
	require.NoError(t, err)
	require.Len(t, q.Buckets(), 15)
	assert.Equal(t, dense(q.Buckets(), both,
		logquery.Point{Bucket: clock(10, 10, 0, 0), Environment: "live", Requests: 2, Errors: 1},
		logquery.Point{Bucket: clock(10, 10, 0, 0), Environment: "test", Requests: 2, Errors: 1},
		logquery.Point{Bucket: clock(10, 11, 0, 0), Environment: "test", Requests: 1},
		logquery.Point{Bucket: clock(11, 0, 0, 0), Environment: "test", Requests: 1, Errors: 1},
	), u.Series, "redelivered u3 and u4 count once")
	assert.Equal(t, []logquery.EnvironmentUsage{
		{Environment: "live", Requests: 2, Errors: 1, ErrorRate: 0.5},
		{Environment: "test", Requests: 4, Errors: 2, ErrorRate: 0.5},
	}, u.Environments)
	assert.Equal(t, []logquery.RouteUsage{
		{Route: "catalog.list", Requests: 3, Errors: 1},
		{Route: "orders.create", Requests: 2, Errors: 1},
		{Route: "orders.get", Requests: 1, Errors: 1},
	}, u.TopRoutes)
	assert.Equal(t, []logquery.ErrorUsage{
		{Route: "catalog.list", Status: 500, Requests: 1},
		{Route: "orders.create", Status: 402, Requests: 1},
		{Route: "orders.get", Status: 404, Requests: 1},
	}, u.TopErrors)
	require.Len(t, u.Latency, 3)
	// catalog.list saw 1000, 3000 and 1000 µs: ClickHouse interpolates between samples.
	for i, want := range []logquery.RouteLatency{
		{Route: "catalog.list", P50Us: 1000, P95Us: 2800, P99Us: 2960},
		{Route: "orders.create", P50Us: 2000, P95Us: 2000, P99Us: 2000},
		{Route: "orders.get", P50Us: 5000, P95Us: 5000, P99Us: 5000},
	} {
		got := u.Latency[i]
		assert.Equal(t, want.Route, got.Route)
		assert.InDelta(t, want.P50Us, got.P50Us, 1, want.Route)
		assert.InDelta(t, want.P95Us, got.P95Us, 1, want.Route)
		assert.InDelta(t, want.P99Us, got.P99Us, 1, want.Route)
	}

	// Days: the range's first day starts at midnight UTC.
	q.Interval = logquery.IntervalDay
	u, err = s.store.Usage(ctx, q)
	require.NoError(t, err)
	assert.Equal(t, []logquery.Point{
		{Bucket: clock(10, 0, 0, 0), Environment: "live", Requests: 2, Errors: 1},
		{Bucket: clock(10, 0, 0, 0), Environment: "test", Requests: 3, Errors: 1},
		{Bucket: clock(11, 0, 0, 0), Environment: "live"},
		{Bucket: clock(11, 0, 0, 0), Environment: "test", Requests: 1, Errors: 1},
	}, u.Series)

	// Minutes, and a range that is not whole minutes (10:00:30 reads all of 10:00).
	q = logquery.UsageQuery{PartnerID: "ptr_u", From: clock(10, 10, 0, 30), To: clock(10, 10, 2, 0), Interval: logquery.IntervalMinute}
	u, err = s.store.Usage(ctx, q)
	require.NoError(t, err)
	assert.Equal(t, clock(10, 10, 0, 0), u.From)
	assert.Equal(t, []logquery.Point{
		{Bucket: clock(10, 10, 0, 0), Environment: "live"},
		{Bucket: clock(10, 10, 0, 0), Environment: "test", Requests: 2, Errors: 1},
		{Bucket: clock(10, 10, 1, 0), Environment: "live", Requests: 1},
		{Bucket: clock(10, 10, 1, 0), Environment: "test"},
	}, u.Series)

	// A quiet range: no environments, every list empty.
	q = logquery.UsageQuery{PartnerID: "ptr_u", From: clock(1, 0, 0, 0), To: clock(2, 0, 0, 0), Interval: logquery.IntervalHour}
	u, err = s.store.Usage(ctx, q)
	require.NoError(t, err)
	assert.Empty(t, u.Series)
	assert.Empty(t, u.Environments)
	assert.Empty(t, u.TopRoutes)

	// The rollup's plain count does see the copies: the exactness comes from request_ids.
	var counted uint64
	require.NoError(t, s.ch.Conn.QueryRow(ctx, "SELECT countMerge(requests) FROM "+warehouse.QuoteIdentifier(s.ch.Database)+
		".request_rollup_1m WHERE partner_id = ?", "ptr_u").Scan(&counted))
	assert.Equal(t, uint64(8), counted)
}

func TestUsageTopListsHoldTen(t *testing.T) {
	t.Parallel()
	s := seedUsage(t)
	ctx := context.Background()
	hour := logquery.UsageQuery{From: clock(10, 10, 0, 0), To: clock(10, 11, 0, 0), Interval: logquery.IntervalHour}

	u, err := s.store.Usage(ctx, hour) // all partners
	require.NoError(t, err)
	var routes []string
	for _, r := range u.TopRoutes {
		routes = append(routes, fmt.Sprintf("%s=%d", r.Route, r.Requests))
	}
	// catalog.list (u1, u2, v1, v2) ties with r04 and sorts first by name.
	assert.Equal(t, []string{"r12=12", "r11=11", "r10=10", "r09=9", "r08=8", "r07=7", "r06=6", "r05=5", "catalog.list=4", "r04=4"}, routes)
	require.Len(t, u.TopErrors, logquery.TopN)
	assert.Equal(t, logquery.ErrorUsage{Route: "r12", Status: 500, Requests: 12}, u.TopErrors[0])
	assert.Equal(t, logquery.ErrorUsage{Route: "r03", Status: 500, Requests: 3}, u.TopErrors[9])
	assert.Equal(t, []logquery.EnvironmentUsage{
		{Environment: "live", Requests: 2 + 1 + 78, Errors: 1 + 1 + 78, ErrorRate: 80.0 / 81},
		{Environment: "test", Requests: 2 + 1, Errors: 1, ErrorRate: 1.0 / 3},
	}, u.Environments)

	hour.PartnerID = "ptr_v"
	u, err = s.store.Usage(ctx, hour)
	require.NoError(t, err)
	assert.Equal(t, []logquery.RouteUsage{{Route: "catalog.list", Requests: 2, Errors: 1}}, u.TopRoutes)
}

func TestUsageByPartner(t *testing.T) {
	t.Parallel()
	s := seedUsage(t)
	ctx := context.Background()
	got, err := s.store.UsageByPartner(ctx, clock(10, 10, 0, 0), clock(11, 1, 0, 0), 10)
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, "ptr_many", got[0].PartnerID)
	assert.Equal(t, []uint64{78, 78}, []uint64{got[0].Requests, got[0].Errors})
	assert.InDelta(t, 1000, got[0].P95Us, 1)
	assert.Equal(t, logquery.PartnerUsage{PartnerID: "ptr_u", Requests: 6, Errors: 3, ErrorRate: 0.5, P95Us: got[1].P95Us}, got[1])
	// The latency states keep the two redelivered copies (2000 µs each): with them the
	// samples are 1000 1000 2000 2000 2000 2000 3000 5000, so p95 is 4300, not 4000.
	assert.InDelta(t, 4300, got[1].P95Us, 1)
	assert.Equal(t, logquery.PartnerUsage{PartnerID: "ptr_v", Requests: 2, Errors: 1, ErrorRate: 0.5, P95Us: got[2].P95Us}, got[2])
	assert.InDelta(t, 4000, got[2].P95Us, 1)

	top, err := s.store.UsageByPartner(ctx, clock(10, 10, 0, 0), clock(11, 1, 0, 0), 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"ptr_many", "ptr_u"}, []string{top[0].PartnerID, top[1].PartnerID})

	_, err = s.store.UsageByPartner(ctx, clock(11, 0, 0, 0), clock(10, 0, 0, 0), 0)
	assert.Equal(t, []string{"to", "limit"}, fieldsOf(t, err))
	_, err = s.store.Usage(ctx, logquery.UsageQuery{Interval: "week"})
	assert.Equal(t, []string{"from", "to", "interval"}, fieldsOf(t, err))
}

// Migration 0003 on a database that already has rollup rows: the backfill gives the old
// cells their request ids, so their requests count (once) too, and running it again
// changes nothing.
func TestMigration0003CountsRowsRolledUpBeforeIt(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	ctx := context.Background()
	migrations, err := schema.Migrations()
	require.NoError(t, err)
	require.Equal(t, "0003_rollup_request_ids.sql", migrations[2].Name)
	exec := func(m schema.Migration, skipAlter bool) {
		stmts, err := m.Statements(ch.Database)
		require.NoError(t, err)
		for _, st := range stmts {
			if skipAlter && strings.HasPrefix(st, "ALTER") {
				continue // the runner takes "column already exists" as applied
			}
			require.NoError(t, ch.Conn.Exec(ctx, st), st)
		}
	}
	exec(migrations[0], false)
	exec(migrations[1], false)
	s := suite{ch: ch}
	first, again := usageEvents()
	s.insert(t, first[:6]...) // ptr_u, before 0003
	s.insert(t, again...)

	require.NoError(t, schema.Migrate(ctx, ch.Conn, ch.Database)) // re-runs 0001 and 0002 as no-ops, then 0003
	s.insert(t, first[6:8]...)                                    // ptr_v, after 0003
	s.insert(t, first[7])
	store, err := logquery.New(ch.Conn, ch.Database)
	require.NoError(t, err)
	want := []logquery.PartnerUsage{
		{PartnerID: "ptr_u", Requests: 6, Errors: 3, ErrorRate: 0.5},
		{PartnerID: "ptr_v", Requests: 2, Errors: 1, ErrorRate: 0.5},
	}
	check := func() {
		got, err := store.UsageByPartner(ctx, clock(1, 0, 0, 0), clock(31, 0, 0, 0), 10)
		require.NoError(t, err)
		for i := range got {
			got[i].P95Us = 0
		}
		assert.Equal(t, want, got)
	}
	check()
	exec(migrations[2], true) // as after a crash before the runner recorded it
	check()
}
