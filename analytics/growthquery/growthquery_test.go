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
	to := time.Date(2026, 3, 8, 1, 0, 0, 0, time.FixedZone("CET", 3600)) // 2026-03-08 00:00 UTC
	const pairs = " AND ((environment = ? AND type = ?) OR (environment = ? AND type = ?))"
	const closed = " FROM `st\\`ller`.order_days WHERE day >= toDate(?) AND day < toDate(?)" +
		" GROUP BY day HAVING maxMerge(computed_at) > maxMerge(touched_at)"
	for interval, bucket := range map[string]string{"day": "day", "week": "toMonday(day)", "month": "toStartOfMonth(day)"} {
		sql, args, err := growthquery.Orders("st`ller", "segs", interval, from, to)
		require.NoError(t, err, interval)
		assert.Equal(t, "SELECT source, cohort, in_range, bucket, environment, currency, sum(orders) AS orders, sum(cents) AS cents FROM ("+
			"SELECT partner_id, "+bucket+" AS bucket, environment, currency, orders, cents FROM `st\\`ller`.order_totals_1d"+
			" WHERE day >= toDate(?) AND day < toDate(?)"+pairs+
			" AND (day, computed_at) IN (SELECT day, maxMerge(computed_at)"+closed+")"+
			" UNION ALL SELECT partner_id, bucket, environment, currency, length(groupUniqArrayMerge(events)) AS orders"+
			", arraySum(x -> x.2, groupUniqArrayMerge(events)) AS cents"+
			" FROM (SELECT partner_id, "+bucket+" AS bucket, environment, currency, events FROM `st\\`ller`.order_rollup_1d"+
			" PREWHERE day NOT IN (SELECT day"+closed+")"+
			" WHERE day >= toDate(?) AND day < toDate(?)"+pairs+")"+
			" GROUP BY partner_id, bucket, environment, currency)"+join+
			" GROUP BY source, cohort, in_range, bucket, environment, currency ORDER BY source, cohort, in_range, bucket, environment, currency", sql, interval)
		days := []any{"2026-03-01", "2026-03-08"}
		pairArgs := []any{"live", "order.completed", "test", "order.created"}
		var want []any
		for _, part := range [][]any{days, pairArgs, days, days, days, pairArgs} {
			want = append(want, part...)
		}
		assert.Equal(t, want, args, interval)
	}
	_, _, err := growthquery.Orders("db", "segs", "hour", from, to)
	assert.ErrorIs(t, err, growthquery.ErrInvalid)
}
