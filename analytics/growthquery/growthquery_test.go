package growthquery_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/growthquery"
)

const join = " AS facts ALL INNER JOIN (SELECT partner_id, source, cohort, in_range FROM segs) AS segments USING partner_id"

func TestActivePartnersSQLAndArgs(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 3, 0, 0, 0, 0, time.FixedZone("CET", 3600)) // 2026-03-02 23:00 UTC, a Monday
	cases := []struct {
		period, bucket string
		to             time.Time
		args           []any
	}{
		{"day", "bucket", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
			[]any{"day", "2026-03-02", "2026-04-01", "day", "2026-04-01", "2026-04-01"}},
		// Whole weeks from week rows; the week of Monday 2026-03-30 runs past to: its days.
		{"week", "toMonday(bucket)", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
			[]any{"week", "2026-03-02", "2026-03-30", "day", "2026-03-30", "2026-04-01"}},
		{"week", "toMonday(bucket)", time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC),
			[]any{"week", "2026-03-02", "2026-03-30", "day", "2026-03-30", "2026-03-30"}},
		// March starts before from: not answered, and no day rows read for it.
		{"month", "toStartOfMonth(bucket)", time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC),
			[]any{"month", "2026-03-02", "2026-03-02", "day", "2026-03-20", "2026-03-20"}},
		{"month", "toStartOfMonth(bucket)", time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC),
			[]any{"month", "2026-03-02", "2026-05-01", "day", "2026-05-01", "2026-05-10"}},
	}
	for _, tc := range cases {
		sql, args, err := growthquery.ActivePartners("st`ller", "segs", tc.period, from, tc.to)
		require.NoError(t, err)
		assert.Equal(t, "SELECT source, cohort, in_range, b AS bucket, uniqExact(partner_id) AS partners FROM ("+
			"SELECT partner_id, bucket AS b FROM `st\\`ller`.partner_activity WHERE period = ? AND bucket >= toDate(?) AND bucket < toDate(?)"+
			" UNION ALL SELECT partner_id, "+tc.bucket+" AS b FROM `st\\`ller`.partner_activity"+
			" WHERE period = ? AND bucket >= toDate(?) AND bucket < toDate(?))"+join+
			" GROUP BY source, cohort, in_range, bucket ORDER BY source, cohort, in_range, bucket", sql, tc.period)
		assert.Equal(t, tc.args, args, "%s to %s", tc.period, tc.to)
	}
	_, _, err := growthquery.ActivePartners("db", "segs", "hour", from, from.AddDate(0, 1, 0))
	assert.ErrorIs(t, err, growthquery.ErrInvalid)
}

func TestOrdersSQLAndArgs(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)
	const pairs = " AND ((environment = ? AND type = ?) OR (environment = ? AND type = ?))"
	const closed = " FROM `st\\`ller`.order_periods WHERE period = ? AND bucket >= toDate(?) AND bucket < toDate(?)" +
		" GROUP BY bucket HAVING maxMerge(computed_at) > maxMerge(touched_at)"
	pairArgs := []any{"live", "order.completed", "test", "order.created"}
	cases := []struct {
		interval, bucket string
		to               time.Time
		wholeEnd         string // the closed buckets read from the totals start before it
	}{
		{"day", "day", time.Date(2026, 3, 8, 1, 0, 0, 0, time.FixedZone("CET", 3600)), "2026-03-08"}, // 2026-03-08 00:00 UTC
		{"week", "toMonday(day)", time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC), "2026-03-30"},
		{"week", "toMonday(day)", time.Date(2026, 3, 26, 0, 0, 0, 0, time.UTC), "2026-03-23"}, // the last week is cut
		{"month", "toStartOfMonth(day)", time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC), "2026-03-01"},
		{"month", "toStartOfMonth(day)", time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), "2026-05-01"},
	}
	for _, tc := range cases {
		sql, args, err := growthquery.Orders("st`ller", "segs", tc.interval, from, tc.to)
		require.NoError(t, err, tc.interval)
		assert.Equal(t, "SELECT source, cohort, in_range, bucket, environment, currency, sum(orders) AS orders, sum(cents) AS cents FROM ("+
			"SELECT partner_id, bucket, environment, currency, orders, cents FROM `st\\`ller`.order_totals"+
			" WHERE period = ? AND bucket >= toDate(?) AND bucket < toDate(?)"+pairs+
			" AND (bucket, computed_at) IN (SELECT bucket, maxMerge(computed_at)"+closed+")"+
			" UNION ALL SELECT partner_id, bucket, environment, currency, length(groupUniqArrayMerge(events)) AS orders"+
			", arraySum(x -> x.2, groupUniqArrayMerge(events)) AS cents"+
			" FROM (SELECT partner_id, "+tc.bucket+" AS bucket, environment, currency, events FROM `st\\`ller`.order_rollup_1d"+
			" PREWHERE "+tc.bucket+" NOT IN (SELECT bucket"+closed+")"+
			" WHERE day >= toDate(?) AND day < toDate(?)"+pairs+")"+
			" GROUP BY partner_id, bucket, environment, currency)"+join+
			" GROUP BY source, cohort, in_range, bucket, environment, currency ORDER BY source, cohort, in_range, bucket, environment, currency",
			sql, tc.interval)
		whole := []any{tc.interval, "2026-03-01", tc.wholeEnd}
		var want []any
		for _, part := range [][]any{whole, pairArgs, whole, whole, {"2026-03-01", tc.to.UTC().Format(time.DateOnly)}, pairArgs} {
			want = append(want, part...)
		}
		assert.Equal(t, want, args, "%s to %s", tc.interval, tc.to)
	}
	_, _, err := growthquery.Orders("db", "segs", "hour", from, from.AddDate(0, 1, 0))
	assert.ErrorIs(t, err, growthquery.ErrInvalid)
}
