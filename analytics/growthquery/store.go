package growthquery

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// Activity is one partner's activity in one week and month: it made at least one 2xx
// request in the part of Week that lies in Month.
type Activity struct {
	PartnerID string
	// Week is the UTC Monday of the week.
	Week time.Time
	// Month is the first day of the UTC month.
	Month time.Time
}

// Order is one partner's orders of one environment and currency in one bucket: completed
// live orders (revenue) or created sandbox orders (volume).
type Order struct {
	PartnerID string
	// Bucket is the UTC start of the day, week or month.
	Bucket      time.Time
	Environment string
	Currency    string
	// Orders is the number of distinct order events; Cents their exact sum in minor units.
	Orders uint64
	Cents  int64
}

// ActivePartners runs ActivePartners over [from, to).
func (s *Store) ActivePartners(ctx context.Context, from, to time.Time) ([]Activity, error) {
	if err := validRange(from, to); err != nil {
		return nil, err
	}
	sql, args := ActivePartners(s.database, from, to)
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("growthquery: active partners: %w", err)
	}
	defer rows.Close()
	var out []Activity
	for rows.Next() {
		var a Activity
		if err := rows.Scan(&a.PartnerID, &a.Week, &a.Month); err != nil {
			return nil, fmt.Errorf("growthquery: active partners: %w", err)
		}
		a.Week, a.Month = utcDay(a.Week), utcDay(a.Month)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("growthquery: active partners: %w", err)
	}
	return out, nil
}

// Orders runs Orders for interval over the days of [from, to).
func (s *Store) Orders(ctx context.Context, interval string, from, to time.Time) ([]Order, error) {
	if err := validRange(from, to); err != nil {
		return nil, err
	}
	sql, args, err := Orders(s.database, interval, from, to)
	if err != nil {
		return nil, err
	}
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("growthquery: orders: %w", err)
	}
	defer rows.Close()
	var out []Order
	for rows.Next() {
		var o Order
		if err := rows.Scan(&o.PartnerID, &o.Bucket, &o.Environment, &o.Currency, &o.Orders, &o.Cents); err != nil {
			return nil, fmt.Errorf("growthquery: orders: %w", err)
		}
		o.Bucket = utcDay(o.Bucket)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("growthquery: orders: %w", err)
	}
	return out, nil
}
