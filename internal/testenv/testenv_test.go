package testenv_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/testenv"
)

func TestPostgresWriteAndReadBack(t *testing.T) {
	t.Parallel()
	pool := testenv.Postgres(t)
	ctx := context.Background()

	_, err := pool.Exec(ctx, `CREATE TABLE note (id int PRIMARY KEY, body text NOT NULL)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO note (id, body) VALUES ($1, $2), ($3, $4)`, 1, "first", 2, "second")
	require.NoError(t, err)

	var bodies []string
	rows, err := pool.Query(ctx, `SELECT body FROM note ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var b string
		require.NoError(t, rows.Scan(&b))
		bodies = append(bodies, b)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"first", "second"}, bodies)
}

func TestPostgresDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := testenv.Postgres(t), testenv.Postgres(t)
	ctx := context.Background()
	_, err := a.Exec(ctx, `CREATE TABLE only_in_a (id int)`)
	require.NoError(t, err)
	var exists bool
	require.NoError(t, b.QueryRow(ctx, `SELECT to_regclass('only_in_a') IS NOT NULL`).Scan(&exists))
	assert.False(t, exists, "a table made in one test database is visible in another")
}

func TestClickHouseWriteAndReadBack(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	ctx := context.Background()
	table := ch.Database + ".events"

	require.NoError(t, ch.Conn.Exec(ctx, `CREATE TABLE `+table+` (
		ts DateTime, partner String, bytes UInt64
	) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (partner, ts)`))

	batch, err := ch.Conn.PrepareBatch(ctx, `INSERT INTO `+table+` (ts, partner, bytes)`)
	require.NoError(t, err)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 1000; i++ {
		require.NoError(t, batch.Append(start.Add(time.Duration(i)*time.Second), fmt.Sprintf("p%d", i%3), uint64(i)))
	}
	require.NoError(t, batch.Send())

	var rows, total uint64
	require.NoError(t, ch.Conn.QueryRow(ctx, `SELECT count(), sum(bytes) FROM `+table+` WHERE partner = ?`, "p1").Scan(&rows, &total))
	assert.Equal(t, uint64(333), rows)
	// Sum of i for i in [0,1000) with i%3 == 1: 1 + 4 + ... + 997.
	assert.Equal(t, uint64(166167), total)
}

func TestKafkaProduceAndConsumeInAGroup(t *testing.T) {
	t.Parallel()
	k := testenv.NewKafka(t)
	name := k.Topic(t, "roundtrip", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	w := &kafka.Writer{Addr: kafka.TCP(k.Brokers...), Topic: name, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll}
	const n = 300
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprintf("partner-%d", i%7)), Value: []byte(fmt.Sprintf("event-%d", i))}
	}
	require.NoError(t, w.WriteMessages(ctx, msgs...))
	require.NoError(t, w.Close())

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers, Topic: name, GroupID: name + ".group", MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	seen := map[string]bool{}
	for len(seen) < n {
		m, err := r.FetchMessage(ctx)
		require.NoError(t, err, "after %d of %d messages", len(seen), n)
		require.False(t, seen[string(m.Value)], "message %s delivered twice", m.Value)
		seen[string(m.Value)] = true
		require.NoError(t, r.CommitMessages(ctx, m))
	}
	assert.Len(t, seen, n)
}
