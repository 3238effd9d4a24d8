// Package testenv hands each integration test its own PostgreSQL database, ClickHouse
// database and Kafka topics on the real local servers that `steller stack up` (run by
// make test) starts. A test that asks for a server that is not running fails with a
// message saying how to start it: it never skips.
package testenv

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/analytics/topic"
	"github.com/steller/platform/analytics/warehouse"
)

// Environment variables that point tests at the servers; `steller stack up` writes them
// to .local/test/stack.env, which is read when they are not set.
const (
	PostgresEnv   = "STELLER_TEST_POSTGRES_URL"
	ClickHouseEnv = "STELLER_TEST_CLICKHOUSE_ADDR"
	KafkaEnv      = "STELLER_TEST_KAFKA_BROKERS"
)

const howToStart = "start the test servers with `make services-up` (or run `make test`)"

// lookup returns a server setting from the environment, else from the stack's env file.
func lookup(t testing.TB, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	if v := fromEnvFile(name); v != "" {
		return v
	}
	t.Fatalf("testenv: %s is not set and .local/test/stack.env does not name it: %s", name, howToStart)
	return ""
}

func fromEnvFile(name string) string {
	root, err := RepoRoot()
	if err != nil {
		return ""
	}
	f, err := os.Open(filepath.Join(root, ".local", "test", "stack.env"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && k == name {
			return v
		}
	}
	return ""
}

// RepoRoot walks up from the working directory (a test's package directory) to go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// uniqueName builds a database or topic name from the test's name and random bits, so
// parallel tests and repeated runs never share state.
func uniqueName(t testing.TB, prefix string, maxLen int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	tail := "_" + hex.EncodeToString(suffix)
	base := b.String()
	if room := maxLen - len(prefix) - len(tail); len(base) > room {
		base = base[:room]
	}
	return prefix + base + tail
}

func setupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// PostgresURL creates an empty database for this test and returns its URL; the database
// is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := lookup(t, PostgresEnv)
	ctx, cancel := setupContext()
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: connect to PostgreSQL at %s: %v (%s)", admin, err, howToStart)
	}
	defer conn.Close(ctx)
	name := uniqueName(t, "t_", 63)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := setupContext()
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testenv: %s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Postgres creates an empty database for this test and returns a pool on it; the pool is
// closed and the database dropped when the test ends.
func Postgres(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dbURL := PostgresURL(t)
	ctx, cancel := setupContext()
	defer cancel()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatalf("testenv: pool: %v", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		t.Fatalf("testenv: ping PostgreSQL: %v", err)
	}
	// Registered after PostgresURL's cleanup, so it runs first: close, then drop.
	t.Cleanup(pool.Close)
	return pool
}

// ClickHouse is one test's ClickHouse database on the shared server.
type ClickHouse struct {
	// Conn is a native-protocol connection.
	Conn driver.Conn
	// Database is the test's own database; name it in every statement.
	Database string
	// Addr is the server's native address, for code under test that opens its own.
	Addr string
}

// NewClickHouse creates a database for this test and returns a connection; the database
// is dropped when the test ends.
func NewClickHouse(t testing.TB) ClickHouse {
	t.Helper()
	addr := lookup(t, ClickHouseEnv)
	ctx, cancel := setupContext()
	defer cancel()
	conn, err := warehouse.Open(ctx, warehouse.Config{Addr: addr, User: "default"})
	if err != nil {
		t.Fatalf("testenv: %v (%s)", err, howToStart)
	}
	name := uniqueName(t, "t_", 120)
	if err := warehouse.EnsureDatabase(ctx, conn, name); err != nil {
		conn.Close()
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := setupContext()
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+warehouse.QuoteIdentifier(name)); err != nil {
			t.Errorf("testenv: drop ClickHouse database %s: %v", name, err)
		}
		conn.Close()
	})
	return ClickHouse{Conn: conn, Database: name, Addr: addr}
}

// Kafka is the test's view of the shared broker.
type Kafka struct {
	// Brokers are the bootstrap addresses.
	Brokers []string
}

// NewKafka returns the test broker, checking that it answers.
func NewKafka(t testing.TB) Kafka {
	t.Helper()
	brokers := strings.Split(lookup(t, KafkaEnv), ",")
	ctx, cancel := setupContext()
	defer cancel()
	if err := topic.Ping(ctx, brokers); err != nil {
		t.Fatalf("testenv: Kafka at %v: %v (%s)", brokers, err, howToStart)
	}
	return Kafka{Brokers: brokers}
}

// Topic creates a topic of its own for this test, named after base, and deletes it when
// the test ends.
func (k Kafka) Topic(t testing.TB, base string, partitions int) string {
	t.Helper()
	name := uniqueName(t, "test."+base+".", 200)
	ctx, cancel := setupContext()
	defer cancel()
	if err := topic.Ensure(ctx, k.Brokers, []topic.Spec{{Name: name, Partitions: partitions, ReplicationFactor: 1}}); err != nil {
		t.Fatalf("testenv: create topic %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := setupContext()
		defer cancel()
		if err := topic.Delete(ctx, k.Brokers, name); err != nil {
			t.Errorf("testenv: delete topic %s: %v", name, err)
		}
	})
	return name
}

// String describes the broker for failure messages.
func (k Kafka) String() string { return fmt.Sprintf("kafka%v", k.Brokers) }
