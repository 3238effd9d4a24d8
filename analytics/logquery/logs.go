// Package logquery owns the control plane's reads of the request logs in ClickHouse: the
// log explorer's filtered, keyset-paginated pages and single requests of one partner
// (from request_logs, deduplicated by request id at query time), and usage figures per
// partner or for all partners (from the per-minute rollup request_rollup_1m, counted
// exactly by request id, see migration 0003).
//
// Builders return (sql, args): every value is a `?` argument bound by clickhouse-go, the
// database name is quoted with warehouse.QuoteIdentifier, and the partner filter always
// comes first since partner_id leads both tables' sorting keys. The SQL runs on
// ClickHouse 18.16 (the local server) and on current ClickHouse. Builders expect valid
// input (Filter.Validate, ValidatePage, UsageQuery.Validate); the Store validates before
// it builds.
package logquery

import (
	"strings"
	"time"

	"github.com/steller/platform/analytics/warehouse"
)

// Row is one request as the log explorer shows it: every column of request_logs. ts and
// timestamp_ms are one Timestamp (taken from timestamp_ms, which keeps the milliseconds).
type Row struct {
	// Timestamp is when the edge received the request (UTC, millisecond precision).
	Timestamp time.Time `json:"timestamp"`
	// RequestID is the request's id, minted by the edge and returned as X-Request-Id; rows
	// are deduplicated on it.
	RequestID string `json:"request_id"`
	// ClientRequestID is the X-Request-Id the client sent, when valid; "" when it sent none
	// (and on rows stored before migration 0004). Data, never identity.
	ClientRequestID string `json:"client_request_id"`
	// PartnerID, WorkspaceID and KeyID identify the caller; empty when the request was
	// denied before its key was identified.
	PartnerID   string `json:"partner_id"`
	WorkspaceID string `json:"workspace_id"`
	KeyID       string `json:"key_id"`
	// Environment is test or live.
	Environment string `json:"environment"`
	// Method, Path and Route describe the request; Route is the edge's route name.
	Method string `json:"method"`
	Path   string `json:"path"`
	Route  string `json:"route"`
	// Status is the response status.
	Status uint16 `json:"status"`
	// Latencies in microseconds: total, upstream and the edge's own share.
	LatencyTotalUs    uint64 `json:"latency_total_us"`
	LatencyUpstreamUs uint64 `json:"latency_upstream_us"`
	LatencyEdgeUs     uint64 `json:"latency_edge_us"`
	// ClientIP and UserAgent describe the client.
	ClientIP  string `json:"client_ip"`
	UserAgent string `json:"user_agent"`
	// RequestBytes and ResponseBytes are body sizes.
	RequestBytes  uint64 `json:"request_bytes"`
	ResponseBytes uint64 `json:"response_bytes"`
	// Decision is allow or deny; DenialCode says why a request was denied.
	Decision   string `json:"decision"`
	DenialCode string `json:"denial_code"`
	// SchemaVersion is the event's schema version.
	SchemaVersion uint8 `json:"schema_version"`
	// IngestedAt is when the ingest stored the row (of the copy read, if redelivered).
	IngestedAt time.Time `json:"ingested_at"`
}

// Cursor returns the position after r, for the next page.
func (r Row) Cursor() Cursor {
	return Cursor{TimestampMs: uint64(r.Timestamp.UnixMilli()), RequestID: r.RequestID}
}

// rowColumns are the columns read into a Row, in Scan order (see scanRow).
const rowColumns = "timestamp_ms, request_id, client_request_id, partner_id, workspace_id, key_id, environment, method, path, route, status," +
	" latency_total_us, latency_upstream_us, latency_edge_us, client_ip, user_agent, request_bytes, response_bytes," +
	" decision, denial_code, schema_version, ingested_at"

// LogPage builds the query for one page of f's rows after the cursor (nil: the first
// page), newest first by (timestamp_ms, request_id). It fetches limit+1 rows: an extra
// row means there is a next page.
//
// A redelivered request is stored twice until ReplacingMergeTree merges the copies;
// both have the same sort key, so they are adjacent and LIMIT 1 BY request_id keeps one.
// ts (the event's second, the sorting key's second column) is bounded by From, To and
// the cursor so the primary key reads only the partner's slice of that time; the exact
// bounds are on timestamp_ms. Ordering by ts first changes nothing (ts is timestamp_ms
// in seconds) but lets current ClickHouse read the sorting key in order.
func LogPage(database string, f Filter, after *Cursor, limit int) (string, []any) {
	var b strings.Builder
	b.WriteString("SELECT " + rowColumns + " FROM " + warehouse.QuoteIdentifier(database) + ".request_logs WHERE partner_id = ?")
	args := []any{f.PartnerID}
	cond := func(sql string, vals ...any) {
		b.WriteString(" AND " + sql)
		args = append(args, vals...)
	}
	if !f.From.IsZero() {
		ms := uint64(f.From.UnixMilli())
		cond("ts >= ? AND timestamp_ms >= ?", second(ms), ms)
	}
	if !f.To.IsZero() {
		ms := uint64(f.To.UnixMilli())
		cond("ts <= ? AND timestamp_ms < ?", second(max(ms, 1)-1), ms)
	}
	if after != nil {
		cond("ts <= ? AND (timestamp_ms, request_id) < (?, ?)", second(after.TimestampMs), after.TimestampMs, after.RequestID)
	}
	for _, eq := range []struct{ column, value string }{
		{"environment", f.Environment},
		{"method", f.Method},
		{"route", f.Route},
		{"key_id", f.KeyID},
		{"request_id", f.RequestID},
		{"client_request_id", f.ClientRequestID},
		{"denial_code", f.DenialCode},
	} {
		if eq.value != "" {
			cond(eq.column+" = ?", eq.value)
		}
	}
	switch {
	case f.Path != "" && f.PathPrefix:
		cond("startsWith(path, ?)", f.Path)
	case f.Path != "":
		cond("path = ?", f.Path)
	}
	switch {
	case f.StatusCode != 0:
		cond("status = ?", uint16(f.StatusCode))
	case f.StatusClass != 0:
		cond("status >= ? AND status < ?", uint16(f.StatusClass*100), uint16(f.StatusClass*100+100))
	}
	b.WriteString(" ORDER BY ts DESC, timestamp_ms DESC, request_id DESC LIMIT 1 BY request_id LIMIT ?")
	args = append(args, limit+1)
	return b.String(), args
}

// GetRequest builds the query for one request of one partner. Request ids are random,
// so it reads the partner's whole slice of request_logs (one column of it for the
// match); LIMIT 1 hides a redelivered copy.
func GetRequest(database, partnerID, requestID string) (string, []any) {
	return "SELECT " + rowColumns + " FROM " + warehouse.QuoteIdentifier(database) +
		".request_logs WHERE partner_id = ? AND request_id = ? LIMIT 1", []any{partnerID, requestID}
}

// second returns the start of the second holding Unix millisecond ms, as ts stores it.
func second(ms uint64) time.Time {
	return time.Unix(int64(ms/1000), 0).UTC()
}
