package growthquery_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/growthquery"
)

func TestActivePartnersSQLAndArgs(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.FixedZone("CET", 3600)) // 2026-03-01 23:00 UTC
	to := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	sql, args := growthquery.ActivePartners("st`ller", from, to)
	assert.Equal(t, "SELECT partner_id, toMonday(ts, 'UTC') AS week, toStartOfMonth(ts, 'UTC') AS month"+
		" FROM `st\\`ller`.request_logs WHERE ts >= ? AND ts < ? AND status >= 200 AND status < 300"+
		" GROUP BY partner_id, week, month ORDER BY partner_id, week, month", sql)
	assert.Equal(t, []any{time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC), to}, args)
}

func TestOrdersSQLAndArgs(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)
	to := time.Date(2026, 3, 8, 1, 0, 0, 0, time.FixedZone("CET", 3600)) // 2026-03-08 00:00 UTC
	for interval, bucket := range map[string]string{"day": "day", "week": "toMonday(day)", "month": "toStartOfMonth(day)"} {
		sql, args, err := growthquery.Orders("st`ller", interval, from, to)
		require.NoError(t, err, interval)
		assert.Equal(t, "SELECT partner_id, bucket, environment, currency, length(groupUniqArrayMerge(events)) AS orders"+
			", arraySum(x -> x.2, groupUniqArrayMerge(events)) AS cents"+
			" FROM (SELECT partner_id, "+bucket+" AS bucket, environment, currency, events FROM `st\\`ller`.order_rollup_1d"+
			" WHERE day >= toDate(?) AND day < toDate(?)"+
			" AND ((environment = ? AND type = ?) OR (environment = ? AND type = ?)))"+
			" GROUP BY partner_id, bucket, environment, currency ORDER BY partner_id, bucket, environment, currency", sql, interval)
		assert.Equal(t, []any{"2026-03-01", "2026-03-08", "live", "order.completed", "test", "order.created"}, args, interval)
	}
	_, _, err := growthquery.Orders("db", "hour", from, to)
	assert.ErrorIs(t, err, growthquery.ErrInvalid)
}
