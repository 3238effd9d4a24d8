// Package readinessquery owns the ClickHouse queries behind the go-live readiness report:
// what a partner's own sandbox traffic at the edge says about its integration (orders sent
// with an Idempotency-Key, keys used from outside their allowlist, the error rate, and
// whether 429 and 5xx answers were retried with backoff). Every query reads request_logs
// deduplicated by the edge's request id (LIMIT 1 BY request_id), so a redelivered event
// counts once, and runs alike on ClickHouse 18.16 and current ClickHouse.
package readinessquery

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/steller/platform/analytics/warehouse"
)

// The rule's constants (README.md, "Go-live readiness", states them in words).
const (
	// Window is how far back the report reads the partner's traffic.
	Window = 7 * 24 * time.Hour
	// Environment is the traffic judged: the partner's sandbox requests.
	Environment = "test"
	// OrderMethod and OrderRoute name the order requests that should carry an
	// Idempotency-Key.
	OrderMethod, OrderRoute = "POST", "orders.create"
	// DenialIPNotAllowed is the edge's denial code of a key used from outside its allowlist.
	DenialIPNotAllowed = "ip_not_allowed"
	// RetryHorizon bounds a retry: a repeat later than this after a 429 or 5xx is a new
	// request, not a retry.
	RetryHorizon = 5 * time.Minute
	// MinBackoff is the least wait after a 429 or 5xx that counts as backing off; a retry
	// sooner than this is immediate.
	MinBackoff = time.Second
)

// Traffic is the partner's sandbox traffic in the window, each request counted once.
type Traffic struct {
	// Requests is every request, allowed or denied.
	Requests uint64 `json:"requests"`
	// ClientErrors are the requests answered 4xx (edge denials included).
	ClientErrors uint64 `json:"client_errors"`
	// ServerErrors are the requests answered 5xx.
	ServerErrors uint64 `json:"server_errors"`
	// Orders are the POST /v1/orders requests.
	Orders uint64 `json:"orders"`
	// OrdersWithKey are the Orders that carried an Idempotency-Key.
	OrdersWithKey uint64 `json:"orders_with_idempotency_key"`
	// IPDenials are the requests denied with ip_not_allowed.
	IPDenials uint64 `json:"ip_denials"`
	// IPDeniedKeys and IPDeniedAddresses are the distinct keys and client addresses of IPDenials.
	IPDeniedKeys      uint64 `json:"ip_denied_keys"`
	IPDeniedAddresses uint64 `json:"ip_denied_addresses"`
}

// Retries judges how the partner repeated requests after a 429 or 5xx answer (the rule is
// RetrySQL's).
type Retries struct {
	// Retryable are the requests answered 429 or 5xx.
	Retryable uint64 `json:"retryable_answers"`
	// Retried are those followed by a retry within RetryHorizon.
	Retried uint64 `json:"retried"`
	// Immediate are the retries sooner than MinBackoff after the answer.
	Immediate uint64 `json:"immediate_retries"`
	// MinGapMs and MedianGapMs are the shortest and median waits of the retries, in
	// milliseconds (0 when there were none).
	MinGapMs    int64 `json:"min_gap_ms"`
	MedianGapMs int64 `json:"median_gap_ms"`
}

// dedup is the partner's sandbox requests in [since, until), each once: ts bounds the
// partitions and the sorting key, timestamp_ms makes the range exact.
func dedup(database string, columns string, partnerID string, since, until time.Time) (string, []any) {
	fromMs, toMs := uint64(since.UnixMilli()), uint64(until.UnixMilli())
	sql := "SELECT request_id, " + columns + " FROM " + warehouse.QuoteIdentifier(database) + ".request_logs" +
		" WHERE partner_id = ? AND environment = ? AND ts >= ? AND ts <= ? AND timestamp_ms >= ? AND timestamp_ms < ?" +
		" LIMIT 1 BY request_id"
	return sql, []any{partnerID, Environment, second(fromMs), second(max(toMs, 1) - 1), fromMs, toMs}
}

// TrafficSQL builds the query of the partner's Traffic in [since, until): one row.
func TrafficSQL(database, partnerID string, since, until time.Time) (string, []any) {
	inner, args := dedup(database, "status, method, route, idempotency_key_hash, denial_code, client_ip, key_id", partnerID, since, until)
	order := "method = ? AND route = ?"
	sql := "SELECT count() AS requests, countIf(status >= 400 AND status < 500) AS client_errors," +
		" countIf(status >= 500) AS server_errors, countIf(" + order + ") AS orders," +
		" countIf(" + order + " AND idempotency_key_hash != '') AS orders_with_key," +
		" countIf(denial_code = ?) AS ip_denials, uniqExactIf(key_id, denial_code = ?) AS ip_denied_keys," +
		" uniqExactIf(client_ip, denial_code = ?) AS ip_denied_addresses FROM (" + inner + ")"
	return sql, append([]any{OrderMethod, OrderRoute, OrderMethod, OrderRoute, DenialIPNotAllowed, DenialIPNotAllowed, DenialIPNotAllowed}, args...)
}

// retryable is a 429 or 5xx answer (an edge-internal 500 included: the partner cannot
// tell it apart).
func retryable(status string) string { return "(" + status + " = 429 OR " + status + " >= 500)" }

// RetrySQL builds the query of the partner's Retries in [since, until): one row. The rule:
//
//   - A retryable answer is a request answered 429 or 5xx in the window.
//   - Its retry is the partner's next request after it (by timestamp_ms; requests of the
//     same millisecond in request-id order) that carries the same Idempotency-Key hash,
//     when the answered request carried one; otherwise the next request with the same key
//     id, method and route. A next request more than RetryHorizon later is no retry.
//   - A retry is immediate when it came sooner than MinBackoff after the answer, backed
//     off otherwise.
//
// ClickHouse 18.16 has neither window functions nor ASOF joins, so each group's requests
// are gathered into arrays sorted by (timestamp_ms, request_id), and each retryable
// answer's gap to the following element (the array shifted by one) is taken; answers with a hash are judged in their
// hash's group, those without in their key-method-route group, so each counts once.
func RetrySQL(database, partnerID string, since, until time.Time) (string, []any) {
	horizon, backoff := strconv.FormatInt(RetryHorizon.Milliseconds(), 10), strconv.FormatInt(MinBackoff.Milliseconds(), 10)
	// group sorts a group's arrays and emits each judged answer's gap: -1 when no retry
	// followed within the horizon. own says which answers the group judges.
	group := func(own, groupBy, where string) (string, []any) {
		inner, args := dedup(database, "key_id, method, route, status, timestamp_ms, idempotency_key_hash", partnerID, since, until)
		// Every array is sorted by the same unique keys, and every lambda takes what it
		// reads as arguments: 18.16 does not see columns a lambda captures.
		sorted := func(col string) string { return "arraySort((sv, sk) -> sk, " + col + ", g_key)" }
		sql := "SELECT arrayFilter(pg -> pg != -2, arrayMap((st, h, m, nm) -> if(" + retryable("st") + " AND " + own + "," +
			" if(nm >= m AND nm - m <= " + horizon + ", toInt64(nm) - toInt64(m), -1), -2)," +
			" r_st, r_h, r_ms, arrayPushBack(arrayPopFront(r_ms), toUInt64(0)))) AS gaps" +
			" FROM (SELECT " + sorted("g_ms") + " AS r_ms, " + sorted("g_st") + " AS r_st, " + sorted("g_h") + " AS r_h" +
			" FROM (SELECT groupArray(timestamp_ms) AS g_ms, groupArray(status) AS g_st, groupArray(idempotency_key_hash) AS g_h," +
			" groupArray((timestamp_ms, request_id)) AS g_key FROM (" + inner + ")" + where + " GROUP BY " + groupBy + "))"
		return sql, args
	}
	byKey, keyArgs := group("1", "idempotency_key_hash", " WHERE idempotency_key_hash != ''")
	byRoute, routeArgs := group("h = ''", "key_id, method, route", "")
	sql := "SELECT count() AS retryable, countIf(gap >= 0) AS retried, countIf(gap >= 0 AND gap < " + backoff + ") AS immediate," +
		" minIf(gap, gap >= 0) AS min_gap, quantileExactIf(0.5)(gap, gap >= 0) AS median_gap" +
		" FROM (SELECT arrayJoin(gaps) AS gap FROM (" + byKey + " UNION ALL " + byRoute + "))"
	return sql, append(keyArgs, routeArgs...)
}

// second returns the start of the second holding Unix millisecond ms, as ts stores it.
func second(ms uint64) time.Time { return time.Unix(int64(ms/1000), 0).UTC() }

// Store runs the readiness queries.
type Store struct {
	conn     driver.Conn
	database string
}

// New returns a Store on the tables of database.
func New(conn driver.Conn, database string) (*Store, error) {
	if conn == nil || database == "" {
		return nil, errors.New("readinessquery: a ClickHouse connection and database are required")
	}
	return &Store{conn: conn, database: database}, nil
}

// Traffic returns partnerID's sandbox traffic in [since, until).
func (s *Store) Traffic(ctx context.Context, partnerID string, since, until time.Time) (Traffic, error) {
	sql, args := TrafficSQL(s.database, partnerID, since, until)
	var t Traffic
	err := s.conn.QueryRow(ctx, sql, args...).Scan(&t.Requests, &t.ClientErrors, &t.ServerErrors, &t.Orders, &t.OrdersWithKey,
		&t.IPDenials, &t.IPDeniedKeys, &t.IPDeniedAddresses)
	if err != nil {
		return Traffic{}, fmt.Errorf("readinessquery: traffic: %w", err)
	}
	return t, nil
}

// Retries returns how partnerID retried its 429 and 5xx answers in [since, until).
func (s *Store) Retries(ctx context.Context, partnerID string, since, until time.Time) (Retries, error) {
	sql, args := RetrySQL(s.database, partnerID, since, until)
	var r Retries
	err := s.conn.QueryRow(ctx, sql, args...).Scan(&r.Retryable, &r.Retried, &r.Immediate, &r.MinGapMs, &r.MedianGapMs)
	if err != nil {
		return Retries{}, fmt.Errorf("readinessquery: retries: %w", err)
	}
	return r, nil
}
