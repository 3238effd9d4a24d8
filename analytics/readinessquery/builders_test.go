package readinessquery_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/steller/platform/analytics/readinessquery"
)

// The builders' exact SQL and arguments: the database quoted, every value an argument,
// the range exact to the millisecond and bounded by whole seconds on ts.
func TestBuildersExactSQL(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 7, 0, 0, 500_000_000, time.UTC)
	since := now.Add(-readinessquery.Window)
	dedup := func(cols string) string {
		return "SELECT request_id, " + cols + " FROM `we\\`ird`.request_logs WHERE partner_id = ? AND environment = ?" +
			" AND ts >= ? AND ts <= ? AND timestamp_ms >= ? AND timestamp_ms < ? LIMIT 1 BY request_id"
	}
	window := []any{`ptr_'1`, "test", time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC), time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC),
		uint64(since.UnixMilli()), uint64(now.UnixMilli())}
	group := func(own, where, by string) string {
		sorted := func(c string) string { return "arraySort((sv, sk) -> sk, " + c + ", g_key)" }
		return "SELECT arrayFilter(pg -> pg != -2, arrayMap((st, h, m, nm) -> if((st = 429 OR st >= 500) AND " + own +
			", if(nm >= m AND nm - m <= 300000, toInt64(nm) - toInt64(m), -1), -2), r_st, r_h, r_ms," +
			" arrayPushBack(arrayPopFront(r_ms), toUInt64(0)))) AS gaps FROM (SELECT " + sorted("g_ms") + " AS r_ms, " +
			sorted("g_st") + " AS r_st, " + sorted("g_h") + " AS r_h FROM (SELECT groupArray(timestamp_ms) AS g_ms," +
			" groupArray(status) AS g_st, groupArray(idempotency_key_hash) AS g_h, groupArray((timestamp_ms, request_id)) AS g_key" +
			" FROM (" + dedup("key_id, method, route, status, timestamp_ms, idempotency_key_hash") + ")" + where + " GROUP BY " + by + "))"
	}
	cases := []struct {
		name     string
		build    func(string, string, time.Time, time.Time) (string, []any)
		sql      string
		args     []any
		contains []string
	}{
		{
			name: "traffic", build: readinessquery.TrafficSQL,
			sql: "SELECT count() AS requests, countIf(status >= 400 AND status < 500) AS client_errors, countIf(status >= 500) AS server_errors," +
				" countIf(method = ? AND route = ?) AS orders, countIf(method = ? AND route = ? AND idempotency_key_hash != '') AS orders_with_key," +
				" countIf(denial_code = ?) AS ip_denials, uniqExactIf(key_id, denial_code = ?) AS ip_denied_keys," +
				" uniqExactIf(client_ip, denial_code = ?) AS ip_denied_addresses FROM (" +
				dedup("status, method, route, idempotency_key_hash, denial_code, client_ip, key_id") + ")",
			args: append([]any{"POST", "orders.create", "POST", "orders.create", "ip_not_allowed", "ip_not_allowed", "ip_not_allowed"}, window...),
		},
		{
			name: "retries", build: readinessquery.RetrySQL,
			sql: "SELECT count() AS retryable, countIf(gap >= 0) AS retried, countIf(gap >= 0 AND gap < 1000) AS immediate," +
				" minIf(gap, gap >= 0) AS min_gap, quantileExactIf(0.5)(gap, gap >= 0) AS median_gap FROM (SELECT arrayJoin(gaps) AS gap FROM (" +
				group("1", " WHERE idempotency_key_hash != ''", "idempotency_key_hash") + " UNION ALL " +
				group("h = ''", "", "key_id, method, route") + "))",
			args: append(append([]any{}, window...), window...),
		},
	}
	for _, c := range cases {
		sql, args := c.build("we`ird", `ptr_'1`, since, now)
		assert.Equal(t, c.sql, sql, c.name)
		assert.Equal(t, c.args, args, c.name)
		assert.NotContains(t, sql, "ptr_", "%s: values are arguments, never SQL", c.name)
		assert.Equal(t, strings.Count(sql, "?"), len(args), c.name)
	}
}
