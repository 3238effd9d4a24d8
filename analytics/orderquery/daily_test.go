package orderquery_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/orderquery"
)

const dailySelect = "SELECT day, partner_id, environment, product_id, currency" +
	", sumIf(n, type = ?) AS orders_created, sumIf(cents, type = ?) AS volume_cents" +
	", sumIf(n, type = ?) AS orders_completed, sumIf(cents, type = ?) AS revenue_cents" +
	", sumIf(n, type = ?) AS orders_failed, sumIf(cents, type = ?) AS failed_cents" +
	" FROM (SELECT day, partner_id, environment, product_id, currency, type, length(groupUniqArrayMerge(events)) AS n" +
	", arraySum(x -> x.2, groupUniqArrayMerge(events)) AS cents FROM `st\\`ller`.order_rollup_1d WHERE "

const dailyGroup = " GROUP BY day, partner_id, environment, product_id, currency, type)" +
	" GROUP BY day, partner_id, environment, product_id, currency ORDER BY day, partner_id, environment, product_id, currency"

var types = []any{"order.created", "order.created", "order.completed", "order.completed", "order.failed", "order.failed"}

func TestDailySQLAndArgs(t *testing.T) {
	t.Parallel()
	// A time of day is ignored, in any zone: the UTC day counts.
	from := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)
	to := time.Date(2026, 3, 8, 1, 0, 0, 0, time.FixedZone("CET", 3600)) // 2026-03-08 00:00 UTC
	cases := []struct {
		name  string
		f     orderquery.Filter
		where string
		args  []any
	}{
		{"all partners", orderquery.Filter{From: from, To: to},
			"day >= toDate(?) AND day < toDate(?)", []any{"2026-03-01", "2026-03-08"}},
		{"one partner", orderquery.Filter{PartnerID: "ptr_1", From: from, To: to},
			"partner_id = ? AND day >= toDate(?) AND day < toDate(?)", []any{"ptr_1", "2026-03-01", "2026-03-08"}},
		{"every filter", orderquery.Filter{PartnerID: "ptr_'1", Environment: "live", ProductID: "steam-50", From: from, To: to},
			"partner_id = ? AND day >= toDate(?) AND day < toDate(?) AND environment = ? AND product_id = ?",
			[]any{"ptr_'1", "2026-03-01", "2026-03-08", "live", "steam-50"}},
		{"environment only", orderquery.Filter{Environment: "test", From: from, To: to},
			"day >= toDate(?) AND day < toDate(?) AND environment = ?", []any{"2026-03-01", "2026-03-08", "test"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, tc.f.Validate())
			sql, args := orderquery.Daily("st`ller", tc.f)
			assert.Equal(t, dailySelect+tc.where+dailyGroup, sql)
			assert.Equal(t, append(append([]any{}, types...), tc.args...), args)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		f    orderquery.Filter
		want []string
	}{
		"missing range":     {orderquery.Filter{}, []string{"from and to are required"}},
		"reversed and env":  {orderquery.Filter{From: day, To: day.Add(-time.Hour), Environment: "prod"}, []string{"from must be a day before to", `environment "prod"`}},
		"same day":          {orderquery.Filter{From: day, To: day.Add(23 * time.Hour)}, []string{"from must be a day before to"}},
		"more than MaxDays": {orderquery.Filter{From: day, To: day.AddDate(0, 0, orderquery.MaxDays+1)}, []string{"at most 3660"}},
	} {
		err := tc.f.Validate()
		require.ErrorIs(t, err, orderquery.ErrInvalidFilter, name)
		for _, w := range tc.want {
			assert.ErrorContains(t, err, w, name)
		}
	}
	assert.NoError(t, orderquery.Filter{From: day, To: day.AddDate(0, 0, orderquery.MaxDays)}.Validate())
}
