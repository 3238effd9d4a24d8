package logquery_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/steller/platform/analytics/logquery"
)

const cols = "timestamp_ms, request_id, client_request_id, partner_id, workspace_id, key_id, environment, method, path, route, status," +
	" latency_total_us, latency_upstream_us, latency_edge_us, client_ip, user_agent, request_bytes, response_bytes," +
	" decision, denial_code, schema_version, ingested_at"

const pageOrder = " ORDER BY ts DESC, timestamp_ms DESC, request_id DESC LIMIT 1 BY request_id LIMIT ?"

func TestLogPageSQL(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 10, 12, 0, 0, 250_000_000, time.UTC) // 12:00:00.250
	to := time.Date(2026, 3, 10, 13, 0, 0, 0, time.UTC)
	fromMs, toMs := uint64(from.UnixMilli()), uint64(to.UnixMilli())
	sec := func(h, m, s int) time.Time { return time.Date(2026, 3, 10, h, m, s, 0, time.UTC) }
	hostile := "x' OR 1=1 --"
	cases := []struct {
		name  string
		f     logquery.Filter
		after *logquery.Cursor
		limit int
		sql   string
		args  []any
	}{
		{
			name: "partner only", f: logquery.Filter{PartnerID: "ptr_1"}, limit: 50,
			sql:  "SELECT " + cols + " FROM `steller`.request_logs WHERE partner_id = ?" + pageOrder,
			args: []any{"ptr_1", 51},
		},
		{
			name: "every equality filter, values never in the SQL",
			f: logquery.Filter{PartnerID: hostile, Environment: "live", Method: "POST", Route: hostile, KeyID: "key_1",
				RequestID: "req_1", ClientRequestID: "cli-1", DenialCode: "ip_not_allowed", Path: "/v1/orders", StatusCode: 402},
			limit: 1,
			sql: "SELECT " + cols + " FROM `steller`.request_logs WHERE partner_id = ? AND environment = ? AND method = ?" +
				" AND route = ? AND key_id = ? AND request_id = ? AND client_request_id = ? AND denial_code = ? AND path = ? AND status = ?" + pageOrder,
			args: []any{hostile, "live", "POST", hostile, "key_1", "req_1", "cli-1", "ip_not_allowed", "/v1/orders", uint16(402), 2},
		},
		{
			name: "client request id, deduplicated on the edge's request id only", f: logquery.Filter{PartnerID: "ptr_1", ClientRequestID: "order-42"},
			limit: 20,
			sql:   "SELECT " + cols + " FROM `steller`.request_logs WHERE partner_id = ? AND client_request_id = ?" + pageOrder,
			args:  []any{"ptr_1", "order-42", 21},
		},
		{
			name: "path prefix and status class", f: logquery.Filter{PartnerID: "ptr_1", Path: "/v1/orders/%_", PathPrefix: true, StatusClass: 4},
			limit: 200,
			sql:   "SELECT " + cols + " FROM `steller`.request_logs WHERE partner_id = ? AND startsWith(path, ?) AND status >= ? AND status < ?" + pageOrder,
			args:  []any{"ptr_1", "/v1/orders/%_", uint16(400), uint16(500), 201},
		},
		{
			name: "time range bounds ts for the primary key", f: logquery.Filter{PartnerID: "ptr_1", From: from, To: to}, limit: 10,
			sql: "SELECT " + cols + " FROM `steller`.request_logs WHERE partner_id = ? AND ts >= ? AND timestamp_ms >= ?" +
				" AND ts <= ? AND timestamp_ms < ?" + pageOrder,
			args: []any{"ptr_1", sec(12, 0, 0), fromMs, sec(12, 59, 59), toMs, 11},
		},
		{
			name: "cursor", f: logquery.Filter{PartnerID: "ptr_1", Method: "GET"}, limit: 10,
			after: &logquery.Cursor{TimestampMs: uint64(sec(12, 30, 0).UnixMilli()) + 999, RequestID: "req_" + hostile},
			sql: "SELECT " + cols + " FROM `steller`.request_logs WHERE partner_id = ? AND ts <= ? AND (timestamp_ms, request_id) < (?, ?)" +
				" AND method = ?" + pageOrder,
			args: []any{"ptr_1", sec(12, 30, 0), uint64(sec(12, 30, 0).UnixMilli()) + 999, "req_" + hostile, "GET", 11},
		},
		{
			name: "quoted database", f: logquery.Filter{PartnerID: "p"}, limit: 5,
			sql:  "SELECT " + cols + " FROM `we\\`ird`.request_logs WHERE partner_id = ?" + pageOrder,
			args: []any{"p", 6},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := "steller"
			if tc.name == "quoted database" {
				db = "we`ird"
			}
			sql, args := logquery.LogPage(db, tc.f, tc.after, tc.limit)
			assert.Equal(t, tc.sql, sql)
			assert.Equal(t, tc.args, args)
		})
	}
}

func TestGetRequestSQL(t *testing.T) {
	t.Parallel()
	sql, args := logquery.GetRequest("steller", "ptr_1", "req_'x")
	assert.Equal(t, "SELECT "+cols+" FROM `steller`.request_logs WHERE partner_id = ? AND request_id = ? LIMIT 1", sql)
	assert.Equal(t, []any{"ptr_1", "req_'x"}, args)
}

func TestUsageSQL(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 10, 10, 0, 30, 0, time.UTC)
	to := time.Date(2026, 3, 11, 1, 0, 0, 1, time.UTC)
	// The rollup is per minute: the window is rounded out to whole minutes.
	wFrom, wTo := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 11, 1, 1, 0, 0, time.UTC)
	one := logquery.UsageQuery{PartnerID: "ptr_1", From: from, To: to, Interval: logquery.IntervalHour}
	all := logquery.UsageQuery{From: from, To: to, Interval: logquery.IntervalDay}
	const (
		req     = "uniqExactMerge(request_ids)"
		errs    = "uniqExactMergeIf(request_ids, status >= 400)"
		tbl     = " FROM `steller`.request_rollup_1m WHERE "
		onePtr  = tbl + "partner_id = ? AND minute >= ? AND minute < ?"
		allPtrs = tbl + "minute >= ? AND minute < ?"
	)
	oneArgs, allArgs := []any{"ptr_1", wFrom, wTo}, []any{wFrom, wTo}
	cases := []struct {
		name  string
		build func(string, logquery.UsageQuery) (string, []any)
		q     logquery.UsageQuery
		sql   string
		args  []any
	}{
		{"series by hour", logquery.UsageSeries, one,
			"SELECT toStartOfHour(minute, 'UTC') AS bucket, environment, " + req + " AS request_count, " + errs + " AS error_count" +
				onePtr + " GROUP BY bucket, environment ORDER BY bucket, environment", oneArgs},
		{"series by day, all partners", logquery.UsageSeries, all,
			"SELECT toStartOfDay(minute, 'UTC') AS bucket, environment, " + req + " AS request_count, " + errs + " AS error_count" +
				allPtrs + " GROUP BY bucket, environment ORDER BY bucket, environment", allArgs},
		{"series by minute", logquery.UsageSeries, logquery.UsageQuery{PartnerID: "ptr_1", From: from, To: to, Interval: logquery.IntervalMinute},
			"SELECT minute AS bucket, environment, " + req + " AS request_count, " + errs + " AS error_count" +
				onePtr + " GROUP BY bucket, environment ORDER BY bucket, environment", oneArgs},
		{"routes", logquery.UsageRoutes, one,
			"SELECT route, " + req + " AS request_count, " + errs + " AS error_count, quantilesMerge(0.5, 0.95, 0.99)(latency_total_us) AS latency_us" +
				onePtr + " GROUP BY route ORDER BY request_count DESC, route", oneArgs},
		{"routes, all partners", logquery.UsageRoutes, all,
			"SELECT route, " + req + " AS request_count, " + errs + " AS error_count, quantilesMerge(0.5, 0.95, 0.99)(latency_total_us) AS latency_us" +
				allPtrs + " GROUP BY route ORDER BY request_count DESC, route", allArgs},
		{"top errors", logquery.UsageTopErrors, one,
			"SELECT route, status, " + req + " AS error_count" + onePtr +
				" AND status >= 400 GROUP BY route, status ORDER BY error_count DESC, route, status LIMIT 10", oneArgs},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sql, args := tc.build("steller", tc.q)
			assert.Equal(t, tc.sql, sql)
			assert.Equal(t, tc.args, args)
		})
	}
}

func TestUsageByPartnerSQL(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	sql, args := logquery.UsageByPartner("steller", from, to, 25)
	assert.Equal(t, "SELECT partner_id, uniqExactMerge(request_ids) AS request_count,"+
		" uniqExactMergeIf(request_ids, status >= 400) AS error_count,"+
		" quantilesMerge(0.5, 0.95, 0.99)(latency_total_us)[2] AS p95_us FROM `steller`.request_rollup_1m"+
		" WHERE minute >= ? AND minute < ? GROUP BY partner_id ORDER BY request_count DESC, partner_id LIMIT ?", sql)
	assert.Equal(t, []any{from, to, 25}, args)
}
