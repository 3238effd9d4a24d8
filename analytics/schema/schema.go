// Package schema owns Steller's ClickHouse tables: the versioned migrations embedded in the
// binary (request_logs, the per-minute rollup and its materialized view), the runner that
// applies them, and retention by dropping monthly partitions.
//
// The SQL runs on ClickHouse 18.16 (the Debian server used locally) and on current
// ClickHouse. goose is not used: its ClickHouse dialect needs database/sql and records each
// version with an Exec of `INSERT ... VALUES ($1, $2)`, which hangs on 18.16 (checked:
// goose.NewProvider over clickhouse.OpenDB with the native protocol created
// goose_db_version and then timed out inserting version 0). The runner here records
// versions in schema_migrations with a column-named batch instead.
//
// Time: DateTime64 does not exist on 18.16, so request_logs keeps ts (DateTime, the event's
// second, used for partitioning, the sorting key and range filters) and timestamp_ms
// (UInt64, the event's exact Unix milliseconds, for display and ordering within a
// second). Latencies are UInt64 microseconds, as in the event.
//
// Request logs are stored at least once: the ingest commits Kafka offsets only after an
// insert, so a crash between the two replays the batch. request_logs is a
// ReplacingMergeTree keyed by (partner_id, ts, request_id), all derived from the event, so
// copies collapse on merge; queries that must be exact before a merge read with FINAL or
// with `LIMIT 1 BY request_id` (see DedupSubquery). The rollup request_rollup_1m is fed
// by a materialized view, which sees every inserted block: a replayed batch reaches it
// twice. Its request_ids column (migration 0003, a uniqExact state per cell) keeps request
// and error counts exact anyway; its count, byte and latency states do not.
//
// Order events (migrations 0005 and 0006) are stored the same way in order_events,
// keyed by (partner_id, ts, event_id). Their daily rollup order_rollup_1d keeps each
// cell's events as a set of (event_id, amount_cents), so a copy that reaches its view
// again changes no figure: revenue and volume read from it are exact. Order tables are
// not pruned by retention (revenue history outlives request logs).
//
// Migration 0008 adds partner_activity (one row per partner, UTC day, week or month, and
// environment with a 2xx request, fed by three views on request_logs), and 0009 the exact
// totals of closed order days, weeks and months (order_periods, order_totals; written by
// analytics/ordertotals). Both fill themselves from the rows already stored, and neither
// is pruned by retention.
package schema

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/steller/platform/analytics/warehouse"
)

// Table names created by the migrations.
const (
	// RequestLogsTable holds one row per edge request.
	RequestLogsTable = "request_logs"
	// RollupTable holds per-minute aggregate states per partner, environment, route and
	// status.
	RollupTable = "request_rollup_1m"
	// MigrationsTable records the applied migration versions.
	MigrationsTable = "schema_migrations"
	// OrderEventsTable is the orders table: one row per order event (orderevent.Event),
	// deduplicated by event_id.
	OrderEventsTable = "order_events"
	// OrderRollupTable holds each day's order events per partner, environment, product,
	// currency and type as exact sets of (event_id, amount_cents).
	OrderRollupTable = "order_rollup_1d"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered migration file.
type Migration struct {
	// Version is the file's number prefix.
	Version uint32
	// Name is the file name.
	Name string
	text string
}

// Statements renders the migration for database and splits it into single statements
// (the native protocol runs one statement per query).
func (m Migration) Statements(database string) ([]string, error) {
	tmpl, err := template.New(m.Name).Option("missingkey=error").Parse(m.text)
	if err != nil {
		return nil, fmt.Errorf("schema: parse %s: %w", m.Name, err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, struct{ DB string }{DB: warehouse.QuoteIdentifier(database)}); err != nil {
		return nil, fmt.Errorf("schema: render %s: %w", m.Name, err)
	}
	var stmts []string
	for _, part := range strings.Split(stripComments(b.String()), ";") {
		if s := strings.TrimSpace(part); s != "" {
			stmts = append(stmts, s)
		}
	}
	return stmts, nil
}

// stripComments drops whole-line `--` comments so they never hide a statement separator.
func stripComments(sql string) string {
	lines := strings.Split(sql, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n")
}

var migrationName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	return loadMigrations(migrationFiles)
}

// loadMigrations reads migrations/NNNN_name.sql files from fsys.
func loadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("schema: read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("schema: migration file %q is not named NNNN_name.sql", e.Name())
		}
		v, _ := strconv.ParseUint(m[1], 10, 32)
		text, err := fs.ReadFile(fsys, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("schema: read %s: %w", e.Name(), err)
		}
		if n := len(out); n > 0 && out[n-1].Version == uint32(v) {
			return nil, fmt.Errorf("schema: two migrations numbered %d", v)
		}
		out = append(out, Migration{Version: uint32(v), Name: e.Name(), text: string(text)})
	}
	return out, nil
}

// Migrate creates database if needed and applies every migration not yet recorded in its
// schema_migrations table, in order. There is no lock (ClickHouse has none to offer), so
// migrations must survive running twice, after a crash between a statement and its
// record or with two processes migrating at once: CREATE statements say IF NOT EXISTS,
// and since 18.16 has no ADD COLUMN IF NOT EXISTS, an ALTER ... ADD COLUMN that finds its
// column already there counts as applied. Give each ALTER a file of its own.
func Migrate(ctx context.Context, conn driver.Conn, database string) error {
	migrations, err := Migrations()
	if err != nil {
		return err
	}
	return migrate(ctx, conn, database, migrations)
}

// ClickHouse error codes an ADD COLUMN of an existing column fails with: ILLEGAL_COLUMN
// ("column with this name already exists", seen on 18.16) and DUPLICATE_COLUMN.
const (
	codeIllegalColumn   = 44
	codeDuplicateColumn = 15
)

// alreadyApplied reports whether err only says that stmt's change is already in place.
func alreadyApplied(stmt string, err error) bool {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || !strings.Contains(strings.ToUpper(stmt), "ADD COLUMN") {
		return false
	}
	return ex.Code == codeDuplicateColumn ||
		(ex.Code == codeIllegalColumn && strings.Contains(ex.Message, "already exists"))
}

func migrate(ctx context.Context, conn driver.Conn, database string, migrations []Migration) error {
	if conn == nil || database == "" {
		return errors.New("schema: migrate needs a connection and a database")
	}
	if err := warehouse.EnsureDatabase(ctx, conn, database); err != nil {
		return err
	}
	db := warehouse.QuoteIdentifier(database)
	if err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+db+"."+MigrationsTable+
		" (version UInt32, name String, applied_at DateTime) ENGINE = MergeTree() ORDER BY version"); err != nil {
		return fmt.Errorf("schema: create %s: %w", MigrationsTable, err)
	}
	applied, err := AppliedVersions(ctx, conn, database)
	if err != nil {
		return err
	}
	for _, m := range migrations {
		if slices.Contains(applied, m.Version) {
			continue
		}
		stmts, err := m.Statements(database)
		if err != nil {
			return err
		}
		for _, s := range stmts {
			if err := conn.Exec(ctx, s); err != nil && !alreadyApplied(s, err) {
				return fmt.Errorf("schema: %s: %w", m.Name, err)
			}
		}
		if err := record(ctx, conn, db, m); err != nil {
			return err
		}
	}
	return nil
}

func record(ctx context.Context, conn driver.Conn, db string, m Migration) error {
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+"."+MigrationsTable+" (version, name, applied_at)")
	if err != nil {
		return fmt.Errorf("schema: record %s: %w", m.Name, err)
	}
	if err := batch.Append(m.Version, m.Name, time.Now().UTC()); err != nil {
		_ = batch.Abort()
		return fmt.Errorf("schema: record %s: %w", m.Name, err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("schema: record %s: %w", m.Name, err)
	}
	return nil
}

// AppliedVersions lists the migration versions recorded in database, ascending.
func AppliedVersions(ctx context.Context, conn driver.Conn, database string) ([]uint32, error) {
	rows, err := conn.Query(ctx, "SELECT DISTINCT version FROM "+warehouse.QuoteIdentifier(database)+"."+MigrationsTable+" ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("schema: read %s: %w", MigrationsTable, err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("schema: read %s: %w", MigrationsTable, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DedupSubquery returns a subquery over request_logs with at most one row per request id,
// for reads that must not see a redelivered copy before ReplacingMergeTree merges it
// away. where filters the raw rows first (it should bound partner_id and ts so the
// primary key prunes); it is SQL the caller builds with `?` parameters, never user text.
func DedupSubquery(database, where string) string {
	q := "SELECT * FROM " + warehouse.QuoteIdentifier(database) + "." + RequestLogsTable
	if where != "" {
		q += " WHERE " + where
	}
	// Copies differ only in ingested_at, so any one of them will do: no ORDER BY needed.
	return "(" + q + " LIMIT 1 BY request_id)"
}
