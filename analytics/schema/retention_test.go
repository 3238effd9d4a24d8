package schema_test

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/internal/testenv"
)

func TestPartitionsQuery(t *testing.T) {
	t.Parallel()
	q, args := schema.PartitionsQuery("steller")
	assert.Equal(t, "SELECT DISTINCT table, partition FROM system.parts WHERE database = ? AND active = 1"+
		" AND table IN (?, ?) ORDER BY table, partition", q)
	assert.Equal(t, []any{"steller", "request_logs", "request_rollup_1m"}, args)
}

func TestDropPartitionSQL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		database string
		p        schema.Partition
		want     string
		err      string
	}{
		{"logs", "steller", schema.Partition{Table: "request_logs", Month: "202401"}, "ALTER TABLE `steller`.`request_logs` DROP PARTITION 202401", ""},
		{"rollup", "a`b", schema.Partition{Table: "request_rollup_1m", Month: "199912"}, "ALTER TABLE `a\\`b`.`request_rollup_1m` DROP PARTITION 199912", ""},
		{"not a month", "steller", schema.Partition{Table: "request_logs", Month: "1; DROP TABLE x"}, "", "not a YYYYMM month"},
		{"tuple partition", "steller", schema.Partition{Table: "request_logs", Month: "(202401, 'x')"}, "", "not a YYYYMM month"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := schema.DropPartitionSQL(tc.database, tc.p)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestExpired(t *testing.T) {
	t.Parallel()
	cutoff := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		month string
		want  bool
	}{
		{"202401", true},
		{"202402", true}, // ends exactly at the cutoff
		{"202403", false},
		{"202312", true},
		{"202404", false},
	}
	for _, tc := range cases {
		got, err := schema.Expired(tc.month, cutoff)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, tc.month)
	}
	got, err := schema.Expired("202403", cutoff.Add(-time.Second))
	require.NoError(t, err)
	assert.False(t, got)
	_, err = schema.Expired("2024-01", cutoff)
	assert.Error(t, err)
}

func partitions(t *testing.T, ch testenv.ClickHouse) []schema.Partition {
	t.Helper()
	q, args := schema.PartitionsQuery(ch.Database)
	rows, err := ch.Conn.Query(context.Background(), q, args...)
	require.NoError(t, err)
	defer rows.Close()
	var out []schema.Partition
	for rows.Next() {
		var p schema.Partition
		require.NoError(t, rows.Scan(&p.Table, &p.Month))
		out = append(out, p)
	}
	require.NoError(t, rows.Err())
	sort.Slice(out, func(i, j int) bool {
		if out[i].Table != out[j].Table {
			return out[i].Table < out[j].Table
		}
		return out[i].Month < out[j].Month
	})
	return out
}

// seedMonths writes one request per month given, into request_logs and (by the view) the
// rollup.
func seedMonths(t *testing.T, ch testenv.ClickHouse, months ...time.Time) {
	t.Helper()
	var rows []row
	for i, m := range months {
		rows = append(rows, row{ts: m, requestID: fmt.Sprintf("req_%d", i), partner: "ptr_1", route: "catalog.list", status: 200, latencyUs: 1000})
	}
	insertRows(t, ch, rows)
}

func both(months ...string) []schema.Partition {
	var out []schema.Partition
	for _, table := range []string{"request_logs", "request_rollup_1m"} {
		for _, m := range months {
			out = append(out, schema.Partition{Table: table, Month: m})
		}
	}
	return out
}

func TestDropPartitionsOlderThanDropsWholeExpiredMonthsOfBothTables(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	ctx := context.Background()
	require.NoError(t, schema.Migrate(ctx, ch.Conn, ch.Database))
	seedMonths(t, ch,
		time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC),
		time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 4, 14, 12, 0, 0, 0, time.UTC),
	)
	require.Equal(t, both("202401", "202402", "202403", "202404"), partitions(t, ch))

	now := time.Date(2024, 4, 15, 0, 0, 0, 0, time.UTC) // cutoff = 2024-03-01 with 45 days
	dropped, err := schema.DropPartitionsOlderThan(ctx, ch.Conn, ch.Database, 45, now)
	require.NoError(t, err)
	assert.ElementsMatch(t, both("202401", "202402"), dropped)
	assert.Equal(t, both("202403", "202404"), partitions(t, ch))
	var left uint64
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT count() FROM `"+ch.Database+"`.request_logs").Scan(&left))
	assert.Equal(t, uint64(2), left)

	again, err := schema.DropPartitionsOlderThan(ctx, ch.Conn, ch.Database, 45, now)
	require.NoError(t, err)
	assert.Empty(t, again)
	_, err = schema.DropPartitionsOlderThan(ctx, ch.Conn, ch.Database, 0, now)
	assert.ErrorContains(t, err, "at least one day")
}

func TestRetentionRunsOnASchedule(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, schema.Migrate(ctx, ch.Conn, ch.Database))

	now := time.Date(2025, 6, 20, 0, 0, 0, 0, time.UTC)
	r, err := schema.NewRetention(schema.RetentionConfig{
		Conn: ch.Conn, Database: ch.Database, Days: 30, Interval: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now },
	})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	// Rows written after the first run are dropped by a later tick.
	seedMonths(t, ch, time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	assert.Eventually(t, func() bool {
		p := partitions(t, ch)
		return len(p) == 2 && p[0].Month == "202506" && p[1].Month == "202506"
	}, 10*time.Second, 20*time.Millisecond)

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestNewRetentionReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := schema.NewRetention(schema.RetentionConfig{Days: -1, Interval: -time.Second})
	require.Error(t, err)
	for _, want := range []string{"connection", "database", "days must be positive", "interval must not be negative"} {
		assert.ErrorContains(t, err, want)
	}
}
