package readinessquery_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/readinessquery"
	"github.com/steller/platform/analytics/schema/schematest"
)

// row is one request_logs row with the columns the readiness queries read.
type row struct {
	id, partner, env, key, method, route, hash, denial, ip string
	status                                                 uint16
	at                                                     time.Time
}

const columns = "ts, timestamp_ms, request_id, partner_id, workspace_id, key_id, environment, method, path, route, status," +
	" client_ip, decision, denial_code, idempotency_key_hash, schema_version, ingested_at"

func insert(t *testing.T, tw schematest.Twin, rows []row) {
	t.Helper()
	ingested := time.Now().UTC().Truncate(time.Second)
	out := make([][]any, len(rows))
	for i, r := range rows {
		decision := "allow"
		if r.denial != "" {
			decision = "deny"
		}
		out[i] = []any{r.at.Truncate(time.Second), uint64(r.at.UnixMilli()), r.id, r.partner, "ws_1", r.key, r.env, r.method,
			"/v1/x", r.route, r.status, r.ip, decision, r.denial, r.hash, uint8(1), ingested}
	}
	tw.Insert(t, "request_logs", strings.Split(columns, ", "), out)
}

// seed is a partner's week of sandbox traffic, with what the report must ignore: another
// partner, live requests, rows outside the window.
func seed(now time.Time) []row {
	var rows []row
	n := 0
	add := func(r row) {
		n++
		if r.id == "" {
			r.id = fmt.Sprintf("req_%04d", n)
		}
		if r.partner == "" {
			r.partner = "ptr_a"
		}
		if r.env == "" {
			r.env = "test"
		}
		if r.key == "" {
			r.key = "key_1"
		}
		if r.ip == "" {
			r.ip = "10.0.0.1"
		}
		rows = append(rows, r)
	}
	base := now.Add(-6 * 24 * time.Hour)
	ms := func(d int) time.Time { return base.Add(time.Duration(d) * time.Millisecond) }
	// Orders: keyed, a 503 retried with the same key after 2 s (backed off), a 500 retried
	// with the same key after 200 ms (immediate), an unkeyed order.
	add(row{method: "POST", route: "orders.create", hash: "00000000000000aa", status: 201, at: ms(0)})
	add(row{method: "POST", route: "orders.create", hash: "00000000000000bb", status: 503, at: ms(10_000)})
	add(row{method: "POST", route: "orders.create", hash: "00000000000000bb", status: 201, at: ms(12_000)})
	add(row{method: "POST", route: "orders.create", hash: "00000000000000cc", status: 500, at: ms(20_000)})
	add(row{method: "POST", route: "orders.create", hash: "00000000000000cc", status: 201, at: ms(20_200)})
	add(row{method: "POST", route: "orders.create", status: 201, at: ms(21_000)})
	// Catalog: a 429 retried by the same key after 50 ms, then again after 1.5 s; a 429
	// repeated only by another key (not a retry); a 502 repeated 10 minutes later (not a
	// retry); two requests in the same millisecond.
	add(row{method: "GET", route: "catalog.list", status: 429, at: ms(100_000)})
	add(row{method: "GET", route: "catalog.list", status: 429, at: ms(100_050)})
	add(row{method: "GET", route: "catalog.list", status: 200, at: ms(101_550)})
	add(row{method: "GET", route: "balance.get", status: 429, at: ms(200_000)})
	add(row{method: "GET", route: "balance.get", key: "key_2", status: 200, at: ms(200_100)})
	add(row{method: "GET", route: "orders.get", status: 502, at: ms(300_000)})
	add(row{method: "GET", route: "orders.get", status: 200, at: ms(300_000 + 600_000)})
	add(row{id: "req_same_a", method: "GET", route: "catalog.list", status: 503, at: ms(400_000)})
	add(row{id: "req_same_b", method: "GET", route: "catalog.list", status: 200, at: ms(400_000)})
	// Denials: two from addresses outside the allowlist (two addresses, one key), one 401.
	add(row{method: "GET", route: "catalog.list", status: 403, denial: "ip_not_allowed", ip: "203.0.113.9", at: ms(500_000)})
	add(row{method: "GET", route: "catalog.list", status: 403, denial: "ip_not_allowed", ip: "203.0.113.10", at: ms(600_000)})
	add(row{method: "GET", route: "catalog.list", key: "", status: 401, denial: "invalid_key", at: ms(700_000)})
	// Ignored: another partner, a live request, one before the window, one at its end.
	add(row{partner: "ptr_b", method: "POST", route: "orders.create", status: 500, at: ms(800_000)})
	add(row{env: "live", method: "POST", route: "orders.create", status: 500, denial: "ip_not_allowed", at: ms(800_000)})
	add(row{method: "POST", route: "orders.create", status: 503, at: now.Add(-readinessquery.Window - time.Millisecond)})
	add(row{method: "POST", route: "orders.create", status: 503, at: now})
	return rows
}

// expect computes the figures from the raw rows, independently of the SQL: a loop over the
// requests in the window, each once, and the retry rule as README.md states it.
func expect(rows []row, partner string, since, until time.Time) (readinessquery.Traffic, readinessquery.Retries) {
	seen := map[string]bool{}
	var in []row
	for _, r := range rows {
		if r.partner != partner || r.env != "test" || r.at.Before(since) || !r.at.Before(until) || seen[r.id] {
			continue
		}
		seen[r.id] = true
		in = append(in, r)
	}
	var tr readinessquery.Traffic
	keys, ips := map[string]bool{}, map[string]bool{}
	for _, r := range in {
		tr.Requests++
		if r.status >= 400 && r.status < 500 {
			tr.ClientErrors++
		}
		if r.status >= 500 {
			tr.ServerErrors++
		}
		if r.method == "POST" && r.route == "orders.create" {
			tr.Orders++
			if r.hash != "" {
				tr.OrdersWithKey++
			}
		}
		if r.denial == "ip_not_allowed" {
			tr.IPDenials++
			keys[r.key], ips[r.ip] = true, true
		}
	}
	tr.IPDeniedKeys, tr.IPDeniedAddresses = uint64(len(keys)), uint64(len(ips))

	slices.SortFunc(in, func(a, b row) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	var rt readinessquery.Retries
	var gaps []int64
	for i, a := range in {
		if a.status != 429 && a.status < 500 {
			continue
		}
		rt.Retryable++
		for _, b := range in[i+1:] {
			same := b.hash == a.hash
			if a.hash == "" {
				same = b.key == a.key && b.method == a.method && b.route == a.route
			}
			if !same {
				continue
			}
			if gap := b.at.Sub(a.at); gap <= readinessquery.RetryHorizon {
				gaps = append(gaps, gap.Milliseconds())
			}
			break
		}
	}
	slices.Sort(gaps)
	rt.Retried = uint64(len(gaps))
	for _, g := range gaps {
		if g < readinessquery.MinBackoff.Milliseconds() {
			rt.Immediate++
		}
	}
	if len(gaps) > 0 {
		rt.MinGapMs = gaps[0]
		rt.MedianGapMs = gaps[len(gaps)/2] // quantileExact(0.5): the element at n/2 of the sorted values
	}
	return tr, rt
}

// Both builders answer alike on 18.16 and current ClickHouse, and the Store's figures
// equal those computed in Go from the raw rows, though every row was stored twice (a
// replayed batch).
func TestReadinessOnBothEnginesAsComputedFromRawRows(t *testing.T) {
	t.Parallel()
	tw := schematest.NewTwin(t)
	now := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	rows := seed(now)
	insert(t, tw, rows)
	insert(t, tw, rows)
	since := now.Add(-readinessquery.Window)

	wantTraffic, wantRetries := expect(rows, "ptr_a", since, now)
	require.Equal(t, uint64(7), wantRetries.Retryable, "the seed exercises the rule")
	require.Equal(t, uint64(5), wantRetries.Retried)
	require.Equal(t, uint64(3), wantRetries.Immediate)

	for name, build := range map[string]func(string, string, time.Time, time.Time) (string, []any){
		"TrafficSQL": readinessquery.TrafficSQL, "RetrySQL": readinessquery.RetrySQL,
	} {
		sql, args := build(tw.Database, "ptr_a", since, now)
		res := tw.Query(t, sql, args...)
		require.Len(t, res.Rows, 1, name)
	}

	store, err := readinessquery.New(tw.Old.Conn, tw.Database)
	require.NoError(t, err)
	ctx := context.Background()
	gotTraffic, err := store.Traffic(ctx, "ptr_a", since, now)
	require.NoError(t, err)
	assert.Equal(t, wantTraffic, gotTraffic)
	gotRetries, err := store.Retries(ctx, "ptr_a", since, now)
	require.NoError(t, err)
	assert.Equal(t, wantRetries, gotRetries)

	// A partner with no traffic: zeros on both engines, no error.
	for _, build := range []func(string, string, time.Time, time.Time) (string, []any){readinessquery.TrafficSQL, readinessquery.RetrySQL} {
		sql, args := build(tw.Database, "ptr_none", since, now)
		res := tw.Query(t, sql, args...)
		require.Len(t, res.Rows, 1)
	}
	empty, err := store.Retries(ctx, "ptr_none", since, now)
	require.NoError(t, err)
	assert.Zero(t, empty)
}
