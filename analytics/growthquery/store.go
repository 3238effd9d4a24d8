package growthquery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Store runs the growth queries on ClickHouse.
type Store struct {
	conn     driver.Conn
	database string
}

// New returns a Store on the tables of database.
func New(conn driver.Conn, database string) (*Store, error) {
	if conn == nil || database == "" {
		return nil, errors.New("growthquery: a ClickHouse connection and database are required")
	}
	return &Store{conn: conn, database: database}, nil
}

// Segment is one partner of a report, with the cell its figures count in.
type Segment struct {
	PartnerID string
	// Source is the partner's referral source.
	Source string
	// Cohort is the UTC Monday of the partner's signup week.
	Cohort time.Time
	// InRange says the partner signed up in the report's range (a cohort week can start
	// before the range, which then holds only part of it).
	InRange bool
}

// Cell is the (source, cohort, in range) of Segment values: figures are per cell.
type Cell struct {
	Source  string
	Cohort  time.Time
	InRange bool
}

// Active is the number of distinct active partners of one cell in one bucket.
type Active struct {
	Cell
	// Bucket is the UTC start of the day, week or month.
	Bucket   time.Time
	Partners uint64
}

// Order is one cell's orders of one environment and currency in one bucket: completed
// live orders (revenue) or created sandbox orders (volume).
type Order struct {
	Cell
	// Bucket is the UTC start of the day, week or month.
	Bucket      time.Time
	Environment string
	Currency    string
	// Orders is the number of distinct order events; Cents their exact sum in minor units.
	Orders uint64
	Cents  int64
}

// withSegments returns ctx carrying segments as the external table SegmentsTable.
func withSegments(ctx context.Context, segments []Segment) (context.Context, error) {
	t, err := ext.NewTable(SegmentsTable,
		ext.Column("partner_id", "String"), ext.Column("source", "String"), ext.Column("cohort", "Date"),
		ext.Column("in_range", "UInt8"))
	if err != nil {
		return nil, err
	}
	for _, s := range segments {
		var in uint8
		if s.InRange {
			in = 1
		}
		if err := t.Append(s.PartnerID, s.Source, utcDay(s.Cohort), in); err != nil {
			return nil, err
		}
	}
	return clickhouse.Context(ctx, clickhouse.WithExternalTable(t)), nil
}

// query runs sql with segments attached and scans each row with scan.
func (s *Store) query(ctx context.Context, what string, segments []Segment, sql string, args []any, scan func(driver.Rows) error) error {
	ctx, err := withSegments(ctx, segments)
	if err != nil {
		return fmt.Errorf("growthquery: %s: segments: %w", what, err)
	}
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("growthquery: %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("growthquery: %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("growthquery: %s: %w", what, err)
	}
	return nil
}

// ActivePartners runs ActivePartners for period over [from, to) and the partners of
// segments. No segment, no figure: it returns nothing without asking ClickHouse.
func (s *Store) ActivePartners(ctx context.Context, segments []Segment, period string, from, to time.Time) ([]Active, error) {
	if err := validRange(from, to); err != nil {
		return nil, err
	}
	sql, args, err := ActivePartners(s.database, SegmentsTable, period, from, to)
	if err != nil || len(segments) == 0 {
		return nil, err
	}
	var out []Active
	err = s.query(ctx, "active partners", segments, sql, args, func(rows driver.Rows) error {
		var a Active
		var in uint8
		if err := rows.Scan(&a.Source, &a.Cohort, &in, &a.Bucket, &a.Partners); err != nil {
			return err
		}
		a.InRange = in == 1
		a.Cohort, a.Bucket = utcDay(a.Cohort), utcDay(a.Bucket)
		out = append(out, a)
		return nil
	})
	return out, err
}

// Orders runs Orders for interval over the days of [from, to) and the partners of
// segments. No segment, no figure: it returns nothing without asking ClickHouse.
func (s *Store) Orders(ctx context.Context, segments []Segment, interval string, from, to time.Time) ([]Order, error) {
	if err := validRange(from, to); err != nil {
		return nil, err
	}
	sql, args, err := Orders(s.database, SegmentsTable, interval, from, to)
	if err != nil || len(segments) == 0 {
		return nil, err
	}
	var out []Order
	err = s.query(ctx, "orders", segments, sql, args, func(rows driver.Rows) error {
		var o Order
		var in uint8
		if err := rows.Scan(&o.Source, &o.Cohort, &in, &o.Bucket, &o.Environment, &o.Currency, &o.Orders, &o.Cents); err != nil {
			return err
		}
		o.InRange = in == 1
		o.Cohort, o.Bucket = utcDay(o.Cohort), utcDay(o.Bucket)
		out = append(out, o)
		return nil
	})
	return out, err
}
