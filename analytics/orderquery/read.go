package orderquery

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Day is one row of Daily: the figures of one partner, environment, product and currency
// on one UTC day. Amounts are minor units (cents) of Currency.
type Day struct {
	// Day is the UTC midnight of the day.
	Day         time.Time
	PartnerID   string
	Environment string
	ProductID   string
	Currency    string
	// OrdersCreated and VolumeCents are the orders created that day and their face value.
	OrdersCreated uint64
	VolumeCents   int64
	// OrdersCompleted and RevenueCents are the orders fulfilled that day and their value.
	OrdersCompleted uint64
	RevenueCents    int64
	// OrdersFailed and FailedCents are the orders that failed (and were refunded) that day.
	OrdersFailed uint64
	FailedCents  int64
}

// Read validates f and runs Daily on conn.
func Read(ctx context.Context, conn driver.Conn, database string, f Filter) ([]Day, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	sql, args := Daily(database, f)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("orderquery: daily: %w", err)
	}
	defer rows.Close()
	var out []Day
	for rows.Next() {
		var d Day
		if err := rows.Scan(&d.Day, &d.PartnerID, &d.Environment, &d.ProductID, &d.Currency,
			&d.OrdersCreated, &d.VolumeCents, &d.OrdersCompleted, &d.RevenueCents, &d.OrdersFailed, &d.FailedCents); err != nil {
			return nil, fmt.Errorf("orderquery: daily: %w", err)
		}
		d.Day = d.Day.UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("orderquery: daily: %w", err)
	}
	return out, nil
}
