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
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.FixedZone("CET", 3600)) // 2026-03-01 23:00 UTC
	to := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for period, bucket := range map[string]string{"day": "day", "week": "toMonday(day)", "month": "toStartOfMonth(day)"} {
		sql, args, err := growthquery.ActivePartners("st`ller", "segs", period, from, to)
		require.NoError(t, err)
		assert.Equal(t, "SELECT source, cohort, in_range, "+bucket+" AS bucket, uniqExact(partner_id) AS partners"+
			" FROM (SELECT partner_id, day FROM `st\\`ller`.partner_activity_1d WHERE day >= toDate(?) AND day < toDate(?))"+join+
			" GROUP BY source, cohort, in_range, bucket ORDER BY source, cohort, in_range, bucket", sql, period)
		assert.Equal(t, []any{"2026-03-01", "2026-04-01"}, args, period)
	}
	_, _, err := growthquery.ActivePartners("db", "segs", "hour", from, to)
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
