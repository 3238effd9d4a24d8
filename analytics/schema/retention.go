package schema

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/periodic"
)

// RetainedTables are the monthly-partitioned tables retention prunes.
var RetainedTables = []string{RequestLogsTable, RollupTable}

// Partition is one monthly partition of a table.
type Partition struct {
	// Table is the table name.
	Table string
	// Month is the partition value, toYYYYMM of the row time (for example "202401").
	Month string
}

// PartitionsQuery returns the SQL and arguments that list the active monthly partitions
// of the retained tables in database.
func PartitionsQuery(database string) (string, []any) {
	return "SELECT DISTINCT table, partition FROM system.parts" +
			" WHERE database = ? AND active = 1 AND table IN (?, ?) ORDER BY table, partition",
		[]any{database, RequestLogsTable, RollupTable}
}

var monthPartition = regexp.MustCompile(`^[0-9]{6}$`)

// DropPartitionSQL returns the statement that drops one monthly partition. The month must
// be six digits (it comes from system.parts, and is checked anyway since it is inlined).
func DropPartitionSQL(database string, p Partition) (string, error) {
	if !monthPartition.MatchString(p.Month) {
		return "", fmt.Errorf("schema: partition %q of %s is not a YYYYMM month", p.Month, p.Table)
	}
	return "ALTER TABLE " + warehouse.QuoteIdentifier(database) + "." + warehouse.QuoteIdentifier(p.Table) +
		" DROP PARTITION " + p.Month, nil
}

// Expired reports whether every moment of month (YYYYMM) lies before cutoff.
func Expired(month string, cutoff time.Time) (bool, error) {
	start, err := time.Parse("200601", month)
	if err != nil {
		return false, fmt.Errorf("schema: partition %q is not a YYYYMM month: %w", month, err)
	}
	return !start.AddDate(0, 1, 0).After(cutoff.UTC()), nil
}

// DropPartitionsOlderThan drops, from request_logs and the rollup, every monthly partition
// that lies entirely more than days before now, and returns what it dropped. A month that
// straddles the cutoff is kept whole, so rows live between days and days+31 days.
func DropPartitionsOlderThan(ctx context.Context, conn driver.Conn, database string, days int, now time.Time) ([]Partition, error) {
	if days <= 0 {
		return nil, fmt.Errorf("schema: retention must keep at least one day, got %d", days)
	}
	cutoff := now.UTC().AddDate(0, 0, -days)
	q, args := PartitionsQuery(database)
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("schema: list partitions: %w", err)
	}
	var expired []Partition
	for rows.Next() {
		var p Partition
		if err := rows.Scan(&p.Table, &p.Month); err != nil {
			rows.Close()
			return nil, fmt.Errorf("schema: list partitions: %w", err)
		}
		old, err := Expired(p.Month, cutoff)
		if err != nil {
			rows.Close()
			return nil, err
		}
		if old {
			expired = append(expired, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("schema: list partitions: %w", err)
	}
	var dropped []Partition
	for _, p := range expired {
		stmt, err := DropPartitionSQL(database, p)
		if err != nil {
			return dropped, err
		}
		if err := conn.Exec(ctx, stmt); err != nil {
			return dropped, fmt.Errorf("schema: drop partition %s of %s: %w", p.Month, p.Table, err)
		}
		dropped = append(dropped, p)
	}
	return dropped, nil
}

// RetentionConfig configures the retention loop.
type RetentionConfig struct {
	// Conn is the ClickHouse connection (required).
	Conn driver.Conn
	// Database holds the tables (required).
	Database string
	// Days is how many days of request logs to keep at least (required, > 0).
	Days int
	// Interval is the time between runs; default one hour.
	Interval time.Duration
	// Logger receives what was dropped and failures; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Retention drops expired partitions on a schedule.
type Retention struct {
	cfg RetentionConfig
}

// NewRetention validates cfg and returns the retention loop.
func NewRetention(cfg RetentionConfig) (*Retention, error) {
	var errs []error
	if cfg.Conn == nil {
		errs = append(errs, errors.New("schema: retention needs a ClickHouse connection"))
	}
	if cfg.Database == "" {
		errs = append(errs, errors.New("schema: retention needs a database"))
	}
	if cfg.Days <= 0 {
		errs = append(errs, fmt.Errorf("schema: retention days must be positive, got %d", cfg.Days))
	}
	if cfg.Interval < 0 {
		errs = append(errs, fmt.Errorf("schema: retention interval must not be negative, got %s", cfg.Interval))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Retention{cfg: cfg}, nil
}

// RunOnce drops the partitions that are expired now.
func (r *Retention) RunOnce(ctx context.Context) ([]Partition, error) {
	dropped, err := DropPartitionsOlderThan(ctx, r.cfg.Conn, r.cfg.Database, r.cfg.Days, r.cfg.Now())
	for _, p := range dropped {
		r.cfg.Logger.Info("retention dropped partition", "table", p.Table, "month", p.Month, "days", r.cfg.Days)
	}
	return dropped, err
}

// Run drops expired partitions now and then every Interval until ctx ends. A failed run is
// logged and tried again at the next tick; Run returns nil when ctx ends.
func (r *Retention) Run(ctx context.Context) error {
	return periodic.Run(ctx, r.cfg.Interval, r.cfg.Logger, "retention run failed", func(ctx context.Context) error {
		_, err := r.RunOnce(ctx)
		return err
	})
}
