// Package keyuse owns one question the control plane asks of the request logs: when was
// each of a partner's API keys last presented at the edge. The edge never writes to the
// control plane's database, so "last used" is read from ClickHouse, where every request
// (allowed, or denied after the key was identified) is a row.
package keyuse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/steller/platform/analytics/warehouse"
)

// Lookup answers last-used questions from ClickHouse.
type Lookup struct {
	conn     driver.Conn
	database string
}

// New returns a Lookup on the request_logs table of database.
func New(conn driver.Conn, database string) (*Lookup, error) {
	if conn == nil || database == "" {
		return nil, errors.New("keyuse: a ClickHouse connection and database are required")
	}
	return &Lookup{conn: conn, database: database}, nil
}

// Query builds the SQL and arguments for the last request time (Unix ms) of each of the
// keys of one partner. The partner filter comes first: it is the table's leading key, so
// the query reads only that partner's rows.
func Query(database, partnerID string, keyIDs []string) (string, []any) {
	sql := "SELECT key_id, max(timestamp_ms) FROM " + warehouse.QuoteIdentifier(database) +
		".request_logs WHERE partner_id = ? AND has(?, key_id) GROUP BY key_id"
	return sql, []any{partnerID, keyIDs}
}

// LastUsed returns when each key was last presented; keys never seen are absent.
func (l *Lookup) LastUsed(ctx context.Context, partnerID string, keyIDs []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(keyIDs))
	if len(keyIDs) == 0 {
		return out, nil
	}
	sql, args := Query(l.database, partnerID, keyIDs)
	rows, err := l.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("keyuse: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var ms uint64
		if err := rows.Scan(&id, &ms); err != nil {
			return nil, fmt.Errorf("keyuse: %w", err)
		}
		out[id] = time.UnixMilli(int64(ms)).UTC()
	}
	return out, rows.Err()
}
