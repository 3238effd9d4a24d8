// Package warehouse owns Steller's connection to ClickHouse: opening it over the native
// protocol (the only one ClickHouse 18.16 accepts from clickhouse-go) and creating the
// database. The tables and their migrations arrive with the request-log pipeline.
package warehouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Config says how to reach ClickHouse.
type Config struct {
	// Addr is host:port of the native protocol.
	Addr string
	// Database is the database Steller's tables live in.
	Database string
	// User and Password authenticate; the local server uses "default" and no password.
	User, Password string
	// Lazy skips the ping, so the connection is made on first use (offline tools such as
	// `steller openapi` wire the control plane without any server).
	Lazy bool
}

// Open connects to ClickHouse and pings it (unless cfg.Lazy). The database need not exist yet; queries name
// it explicitly until EnsureDatabase has run.
func Open(ctx context.Context, cfg Config) (driver.Conn, error) {
	if cfg.Addr == "" {
		return nil, errors.New("warehouse: ClickHouse address is required")
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{cfg.Addr},
		Auth: clickhouse.Auth{Username: cfg.User, Password: cfg.Password},
		// A short read timeout makes a hung statement fail fast instead of stalling
		// (NOTES-local-servers.md: an INSERT ... VALUES with inline values hangs on 18.16).
		DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("warehouse: open %s: %w", cfg.Addr, err)
	}
	if cfg.Lazy {
		return conn, nil
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("warehouse: ping %s: %w", cfg.Addr, err)
	}
	return conn, nil
}

// EnsureDatabase creates the database unless it exists. name must be a plain identifier
// (the configuration validates it); it is quoted anyway.
func EnsureDatabase(ctx context.Context, conn driver.Conn, name string) error {
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+QuoteIdentifier(name)); err != nil {
		return fmt.Errorf("warehouse: create database %s: %w", name, err)
	}
	return nil
}

// QuoteIdentifier quotes a ClickHouse identifier with backticks.
func QuoteIdentifier(name string) string {
	out := make([]byte, 0, len(name)+2)
	out = append(out, '`')
	for i := 0; i < len(name); i++ {
		if name[i] == '`' || name[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, name[i])
	}
	return string(append(out, '`'))
}
