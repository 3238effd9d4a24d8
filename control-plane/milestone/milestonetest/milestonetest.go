// Package milestonetest owns the test fixtures of the milestone detector and backfill
// tests: request-log and order events shaped for milestones, and producing them to, and
// awaiting their consumption from, the test stack's Kafka.
package milestonetest

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/testenv"
)

// Call is a request-log event.
func Call(id, partner, env string, status int, at time.Time) requestlog.Event {
	decision, denial := requestlog.DecisionAllow, ""
	if status == 401 || status == 403 {
		decision, denial = requestlog.DecisionDeny, "forbidden_by_policy"
	}
	return requestlog.Event{SchemaVersion: requestlog.SchemaVersion, RequestID: id, TimestampMs: at.UnixMilli(),
		PartnerID: partner, WorkspaceID: "ws_1", KeyID: "key_1", Environment: env, Method: "GET", Path: "/v1/catalog",
		Route: "catalog.list", Status: status, LatencyTotalUs: 1000, ClientIP: "127.0.0.1", UserAgent: "test",
		Decision: decision, DenialCode: denial}
}

// Order is an order event of type typ.
func Order(orderID, typ, partner, env string, at time.Time) orderevent.Event {
	e := orderevent.Event{SchemaVersion: orderevent.SchemaVersion, EventID: orderevent.ID(orderID, typ), Type: typ,
		OrderID: orderID, PartnerID: partner, WorkspaceID: "ws_1", Environment: env, ProductID: "sbx_books",
		AmountCents: 2500, Currency: "USD", OrderCreatedAtMs: at.Add(-time.Second).UnixMilli(), OccurredAtMs: at.UnixMilli(),
		RequestID: "req_" + orderID}
	if typ == orderevent.TypeFailed {
		e.FailureReason = orderevent.ReasonOutOfStock
	}
	return e
}

// Message encodes an event (or takes raw bytes) as a message keyed by partner.
func Message(t testing.TB, partner string, v any) kafka.Message {
	t.Helper()
	raw, ok := v.([]byte)
	if !ok {
		var err error
		raw, err = json.Marshal(v)
		require.NoError(t, err)
	}
	return kafka.Message{Key: []byte(partner), Value: raw}
}

// AwaitCommitted waits until the group has committed want messages of topic. Errors
// while the group's coordinator is still being chosen are waited out too.
func AwaitCommitted(t testing.TB, brokers []string, group, topic string, partitions int, want int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var got int64
	var err error
	for time.Now().Before(deadline) {
		if got, err = testenv.CommittedOffsets(brokers, group, topic, partitions); err == nil && got >= want {
			require.Equal(t, want, got)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("group %s committed %d of %d messages of %s within %s (last error: %v)", group, got, want, topic, within, err)
}

// Jobs is a milestone.Inserter for tests of the actions that record milestones: it
// inserts through an insert-only River client, or, with Fail set, refuses every job, so a
// test sees the whole action roll back with its milestone.
type Jobs struct {
	client *river.Client[pgx.Tx]
	// Fail makes every insert fail.
	Fail atomic.Bool
}

// NewJobs returns Jobs on pool, creating River's tables in it first.
func NewJobs(t testing.TB, pool *pgxpool.Pool) *Jobs {
	t.Helper()
	require.NoError(t, webhook.MigrateQueue(context.Background(), pool))
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	return &Jobs{client: client}
}

// InsertTx inserts the job in tx, unless Fail is set.
func (j *Jobs) InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if j.Fail.Load() {
		return nil, errors.New("milestonetest: job insert refused")
	}
	return j.client.InsertTx(ctx, tx, args, opts)
}

// Stored returns partnerID's milestones and the milestone_reached jobs queued for it
// (their args), in funnel order and insertion order.
func Stored(t testing.TB, pool *pgxpool.Pool, partnerID string) ([]milestone.Row, []milestone.Reached) {
	t.Helper()
	rows, err := milestone.List(context.Background(), pool, partnerID)
	require.NoError(t, err)
	q, err := pool.Query(context.Background(), `SELECT args FROM river_job
WHERE kind = 'milestone_reached' AND args->>'partner_id' = $1 ORDER BY id`, partnerID)
	require.NoError(t, err)
	raw, err := pgx.CollectRows(q, pgx.RowTo[[]byte])
	require.NoError(t, err)
	jobs := make([]milestone.Reached, len(raw))
	for i, a := range raw {
		require.NoError(t, json.Unmarshal(a, &jobs[i]))
	}
	return rows, jobs
}
