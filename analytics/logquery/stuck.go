package logquery

import (
	"context"
	"fmt"
	"time"

	"github.com/steller/platform/analytics/warehouse"
)

// StuckWindow is how far back the stuck hint looks.
const StuckWindow = 24 * time.Hour

// Stuck is the most frequent failure of a partner since its last success: the code of
// the 4xx answers and edge denials that came after its last 2xx in the window (all of
// them in the window when there was none). Count is zero when the partner is not stuck.
type Stuck struct {
	// Code is the edge's denial code, or http_<status> for a 4xx answered upstream.
	Code string `json:"code" example:"ip_not_allowed"`
	// Status is the HTTP status those requests got (the lowest, should a code have several).
	Status int `json:"status" example:"403"`
	// Count is how many requests failed with Code since the last 2xx.
	Count uint64 `json:"count"`
	// Failures is how many requests failed with any 4xx or denial since the last 2xx.
	Failures uint64 `json:"failures"`
	// LastSeen is when the latest of Code's requests arrived.
	LastSeen time.Time `json:"last_seen"`
	// LastSuccess is the partner's last 2xx in the window; absent when there was none.
	LastSuccess *time.Time `json:"last_success,omitempty"`
}

// failureCodeExpr names a failed request's code: the edge's denial code when it denied
// the request, else the upstream's status.
const failureCodeExpr = "if(denial_code != '', denial_code, concat('http_', toString(status)))"

// StuckSince builds the query for partnerID's failures in [since, until) after its last
// 2xx in that range (all of them when there was none): one row per failure code, most
// frequent first, with the code's requests, lowest status and latest time (Unix ms), and
// the last 2xx's time (0 when there was none) on every row. A failure is a 4xx or a
// denial; 5xx answers are the platform's to fix, not the partner's. Request ids count
// each request once, however often it was delivered, and each request has one code, so
// the rows' counts add up to the failures.
func StuckSince(database, partnerID string, since, until time.Time) (string, []any) {
	table := warehouse.QuoteIdentifier(database) + ".request_logs"
	fromMs, toMs := uint64(since.UnixMilli()), uint64(until.UnixMilli())
	window := "partner_id = ? AND ts >= ? AND ts <= ? AND timestamp_ms >= ? AND timestamp_ms < ?"
	windowArgs := []any{partnerID, second(fromMs), second(max(toMs, 1) - 1), fromMs, toMs}
	// ifNull: current ClickHouse types a scalar subquery Nullable (NULL were it empty; an
	// aggregate's never is), 18.16 does not.
	lastOK := "ifNull((SELECT max(timestamp_ms) FROM " + table + " WHERE " + window + " AND status >= 200 AND status < 300), 0)"
	sql := "SELECT " + failureCodeExpr + " AS code, min(status) AS lowest_status, uniqExact(request_id) AS requests," +
		" max(timestamp_ms) AS last_ms, " + lastOK + " AS last_ok_ms FROM " + table +
		" WHERE " + window + " AND timestamp_ms > " + lastOK + " AND ((status >= 400 AND status < 500) OR decision = 'deny')" +
		" GROUP BY code ORDER BY requests DESC, code"
	var args []any
	for range 3 { // the SELECT's last 2xx, the WHERE's window, the WHERE's last 2xx
		args = append(args, windowArgs...)
	}
	return sql, args
}

// Stuck returns partnerID's stuck hint over the StuckWindow before now; a zero Count
// means the partner is not stuck.
func (s *Store) Stuck(ctx context.Context, partnerID string, now time.Time) (Stuck, error) {
	sql, args := StuckSince(s.database, partnerID, now.Add(-StuckWindow), now)
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return Stuck{}, fmt.Errorf("logquery: stuck: %w", err)
	}
	defer rows.Close()
	var out Stuck
	for first := true; rows.Next(); first = false {
		var code string
		var status uint16
		var requests, lastMs, lastOKMs uint64
		if err := rows.Scan(&code, &status, &requests, &lastMs, &lastOKMs); err != nil {
			return Stuck{}, fmt.Errorf("logquery: stuck: %w", err)
		}
		out.Failures += requests
		if !first {
			continue
		}
		out.Code, out.Status, out.Count, out.LastSeen = code, int(status), requests, time.UnixMilli(int64(lastMs)).UTC()
		if lastOKMs > 0 {
			ok := time.UnixMilli(int64(lastOKMs)).UTC()
			out.LastSuccess = &ok
		}
	}
	if err := rows.Err(); err != nil {
		return Stuck{}, fmt.Errorf("logquery: stuck: %w", err)
	}
	return out, nil
}
