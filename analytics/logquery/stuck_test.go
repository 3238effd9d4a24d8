package logquery_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
)

func TestStuckSinceSQL(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 3, 9, 12, 0, 0, 250_000_000, time.UTC)
	until := since.Add(24 * time.Hour)
	sql, args := logquery.StuckSince("steller", "ptr_'1", since, until)
	window := "partner_id = ? AND ts >= ? AND ts <= ? AND timestamp_ms >= ? AND timestamp_ms < ?"
	lastOK := "ifNull((SELECT max(timestamp_ms) FROM `steller`.request_logs WHERE " + window + " AND status >= 200 AND status < 300), 0)"
	assert.Equal(t, "SELECT if(denial_code != '', denial_code, concat('http_', toString(status))) AS code, min(status) AS lowest_status,"+
		" uniqExact(request_id) AS requests, max(timestamp_ms) AS last_ms, "+lastOK+" AS last_ok_ms FROM `steller`.request_logs"+
		" WHERE "+window+" AND timestamp_ms > "+lastOK+" AND ((status >= 400 AND status < 500) OR decision = 'deny')"+
		" GROUP BY code ORDER BY requests DESC, code", sql)
	w := []any{"ptr_'1", since.Truncate(time.Second), until.Add(-time.Millisecond).Truncate(time.Second).UTC(),
		uint64(since.UnixMilli()), uint64(until.UnixMilli())}
	assert.Equal(t, append(append(append([]any{}, w...), w...), w...), args)
}

// The hint names the most frequent failure since the last 2xx, counting redelivered
// requests once, and leaves out 5xx answers, failures before the last success and
// requests outside the window or of other partners.
func TestStuckNamesTheMostFrequentFailureSinceTheLastSuccess(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return now.Add(-d) }

	stuck := []event{
		{id: "old_fail", partner: "ptr_stuck", at: at(30 * time.Hour), status: 401, denial: "missing_key"}, // outside
		{id: "before_ok", partner: "ptr_stuck", at: at(6 * time.Hour), status: 403, denial: "ip_not_allowed"},
		{id: "ok", partner: "ptr_stuck", at: at(5 * time.Hour), status: 200},
		{id: "f1", partner: "ptr_stuck", at: at(4 * time.Hour), status: 403, denial: "ip_not_allowed"},
		{id: "f2", partner: "ptr_stuck", at: at(3 * time.Hour), status: 422},
		{id: "f3", partner: "ptr_stuck", at: at(2 * time.Hour), status: 403, denial: "ip_not_allowed"},
		{id: "f4", partner: "ptr_stuck", at: at(time.Hour), status: 403, denial: "ip_not_allowed"},
		{id: "f5", partner: "ptr_stuck", at: at(50 * time.Minute), status: 403, denial: "ip_not_allowed"},
		{id: "f6", partner: "ptr_stuck", at: at(40 * time.Minute), status: 422},
		{id: "platform", partner: "ptr_stuck", at: at(30 * time.Minute), status: 503},
		{id: "future", partner: "ptr_stuck", at: now.Add(time.Minute), status: 200}, // outside
	}
	recovered := []event{
		{id: "r1", partner: "ptr_recovered", at: at(3 * time.Hour), status: 401, denial: "invalid_key"},
		{id: "r2", partner: "ptr_recovered", at: at(2 * time.Hour), status: 201},
	}
	never := []event{
		{id: "n1", partner: "ptr_never", at: at(3 * time.Hour), status: 401, denial: "invalid_key"},
		{id: "n2", partner: "ptr_never", at: at(2 * time.Hour), status: 404},
	}
	s.insert(t, append(append(stuck, recovered...), never...)...)
	s.insert(t, stuck[3], stuck[4], stuck[4]) // redelivered: f1 once more, f2 twice

	got, err := s.store.Stuck(ctx, "ptr_stuck", now)
	require.NoError(t, err)
	ok := at(5 * time.Hour)
	assert.Equal(t, logquery.Stuck{Code: "ip_not_allowed", Status: 403, Count: 4, Failures: 6,
		LastSeen: at(50 * time.Minute), LastSuccess: &ok}, got)

	got, err = s.store.Stuck(ctx, "ptr_recovered", now)
	require.NoError(t, err)
	assert.Zero(t, got.Count, "a 2xx after the failures means not stuck")

	got, err = s.store.Stuck(ctx, "ptr_never", now)
	require.NoError(t, err)
	// Equal counts: the code that sorts first wins, so the answer is stable.
	assert.Equal(t, logquery.Stuck{Code: "http_404", Status: 404, Count: 1, Failures: 2, LastSeen: at(2 * time.Hour)}, got)

	got, err = s.store.Stuck(ctx, "ptr_nobody", now)
	require.NoError(t, err)
	assert.Equal(t, logquery.Stuck{}, got)
}
