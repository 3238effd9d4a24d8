package milestone_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/testenv"
)

// setup returns a migrated database with River's tables, an insert-only River client on
// it and a seeded partner.
func setup(t *testing.T) (*pgxpool.Pool, *river.Client[pgx.Tx], string) {
	t.Helper()
	pool := partnertest.DB(t)
	require.NoError(t, webhook.MigrateQueue(context.Background(), pool))
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	return pool, jobs, partnertest.Seed(t, pool, "Milestones", false).PartnerID
}

func record(t *testing.T, pool *pgxpool.Pool, jobs milestone.Inserter, r milestone.Reached) bool {
	t.Helper()
	var stored bool
	require.NoError(t, pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		var err error
		stored, err = milestone.Record(context.Background(), tx, jobs, r)
		return err
	}))
	return stored
}

// jobsOf returns the milestone_reached jobs queued for partnerID.
func jobsOf(t *testing.T, pool *pgxpool.Pool, partnerID string) []milestone.Reached {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT args FROM river_job
WHERE kind = 'milestone_reached' AND queue = $1 AND args->>'partner_id' = $2 ORDER BY id`, milestone.QueueName, partnerID)
	require.NoError(t, err)
	args, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	require.NoError(t, err)
	out := make([]milestone.Reached, len(args))
	for i, a := range args {
		require.NoError(t, json.Unmarshal(a, &out[i]))
	}
	return out
}

func TestAMilestoneIsRecordedOnceWithItsEventAndQueuedOnce(t *testing.T) {
	pool, jobs, partnerID := setup(t)
	at := time.Date(2026, 11, 3, 10, 4, 5, 123456000, time.UTC)
	first := milestone.Reached{PartnerID: partnerID, Milestone: milestone.FirstSandboxCall, At: at,
		EventID: "req_first", Source: milestone.FromRequestLog}

	assert.True(t, record(t, pool, jobs, first))
	// A replay of the same event, and a later event, change nothing.
	assert.False(t, record(t, pool, jobs, first))
	later := first
	later.At, later.EventID = at.Add(time.Hour), "req_later"
	assert.False(t, record(t, pool, jobs, later))

	rows, err := milestone.List(context.Background(), pool, partnerID)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, first.PartnerID, rows[0].PartnerID)
	assert.Equal(t, first.Milestone, rows[0].Milestone)
	assert.True(t, first.At.Equal(rows[0].At), "stored %v, want the event's own time %v", rows[0].At, first.At)
	assert.Equal(t, "req_first", rows[0].EventID)
	assert.Equal(t, milestone.FromRequestLog, rows[0].Source)

	queued := jobsOf(t, pool, partnerID)
	require.Len(t, queued, 1, "one job per milestone reached, none for the replays")
	assert.Equal(t, "req_first", queued[0].EventID)
	assert.True(t, at.Equal(queued[0].At))
}

func TestListIsInFunnelOrder(t *testing.T) {
	pool, jobs, partnerID := setup(t)
	at := time.Now().UTC().Truncate(time.Microsecond)
	for _, name := range []milestone.Name{milestone.FirstLiveOrder, milestone.SignedUp, milestone.FirstKey} {
		record(t, pool, jobs, milestone.Reached{PartnerID: partnerID, Milestone: name, At: at, Source: milestone.FromBackfill})
	}
	rows, err := milestone.List(context.Background(), pool, partnerID)
	require.NoError(t, err)
	var names []milestone.Name
	for _, r := range rows {
		names = append(names, r.Milestone)
	}
	assert.Equal(t, []milestone.Name{milestone.SignedUp, milestone.FirstKey, milestone.FirstLiveOrder}, names)
}

func TestInvalidMilestonesAreRefusedAndStoreNothing(t *testing.T) {
	pool, jobs, partnerID := setup(t)
	valid := milestone.Reached{PartnerID: partnerID, Milestone: milestone.FirstKey, At: time.Now(), Source: milestone.FromControlPlane}
	for name, mutate := range map[string]func(*milestone.Reached){
		"unknown milestone": func(r *milestone.Reached) { r.Milestone = "first_call" },
		"no partner":        func(r *milestone.Reached) { r.PartnerID = "" },
		"no time":           func(r *milestone.Reached) { r.At = time.Time{} },
		"no source":         func(r *milestone.Reached) { r.Source = "" },
	} {
		t.Run(name, func(t *testing.T) {
			r := valid
			mutate(&r)
			err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
				_, err := milestone.Record(context.Background(), tx, jobs, r)
				return err
			})
			require.Error(t, err)
		})
	}
	rows, err := milestone.List(context.Background(), pool, partnerID)
	require.NoError(t, err)
	assert.Empty(t, rows)
	assert.Empty(t, jobsOf(t, pool, partnerID))

	// The table refuses unknown names too, whoever writes them.
	_, err = pool.Exec(context.Background(), `INSERT INTO onboarding_milestones (partner_id, milestone) VALUES ($1, 'first_call')`, partnerID)
	require.Error(t, err)
}

// Two detectors (or a detector and a backfill) racing on the same milestone: the second
// waits on the first's uncommitted row and then stores nothing, so one job is queued.
func TestRacingRecordersStoreOneMilestone(t *testing.T) {
	pool, jobs, partnerID := setup(t)
	ctx := context.Background()
	r := milestone.Reached{PartnerID: partnerID, Milestone: milestone.FirstSandboxOrder, At: time.Now(),
		EventID: "evt_a", Source: milestone.FromOrderEvent}

	first, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = first.Rollback(ctx) }()
	stored, err := milestone.Record(ctx, first, jobs, r)
	require.NoError(t, err)
	require.True(t, stored)

	second := make(chan bool, 1)
	go func() {
		other := r
		other.EventID = "evt_b"
		var ok bool
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			ok, err = milestone.Record(ctx, tx, jobs, other)
			return err
		})
		if err != nil {
			ok = true // fail below: an error is not "nothing stored"
		}
		second <- ok
	}()
	testenv.AwaitLockWaiters(t, pool, 1, "the second recorder never waited for the first")
	require.NoError(t, first.Commit(ctx))
	select {
	case ok := <-second:
		assert.False(t, ok, "the second recorder stored the milestone again")
	case <-time.After(10 * time.Second):
		t.Fatal("the second recorder never finished")
	}
	queued := jobsOf(t, pool, partnerID)
	require.Len(t, queued, 1)
	assert.Equal(t, "evt_a", queued[0].EventID)
}

func TestRecordAllStoresEachNewMilestoneOnceAndQueuesItsJobs(t *testing.T) {
	pool, jobs, partnerID := setup(t)
	other := partnertest.Seed(t, pool, "Other", false).PartnerID
	at := time.Date(2026, 11, 3, 10, 4, 5, 0, time.UTC)
	call := milestone.Reached{PartnerID: partnerID, Milestone: milestone.FirstSandboxCall, At: at, EventID: "req_1", Source: milestone.FromRequestLog}
	require.True(t, record(t, pool, jobs, call), "reached before the batch")
	batch := []milestone.Reached{
		{PartnerID: other, Milestone: milestone.FirstSandboxCall, At: at, EventID: "req_2", Source: milestone.FromRequestLog},
		{PartnerID: other, Milestone: milestone.FirstSandboxCall, At: at.Add(time.Second), EventID: "req_dup", Source: milestone.FromRequestLog},
		{PartnerID: partnerID, Milestone: milestone.FirstSandboxCall, At: at.Add(-time.Hour), EventID: "req_replayed", Source: milestone.FromRequestLog},
		{PartnerID: partnerID, Milestone: milestone.FirstLiveCall, At: at, EventID: "req_3", Source: milestone.FromRequestLog},
	}
	var stored []milestone.Reached
	require.NoError(t, pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		var err error
		stored, err = milestone.RecordAll(context.Background(), tx, jobs, batch)
		return err
	}))
	assert.Equal(t, []milestone.Reached{batch[0], batch[3]}, stored)
	rows, err := milestone.List(context.Background(), pool, partnerID)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, "req_1", rows[0].EventID, "an earlier replayed event does not move a reached milestone")
	assert.Len(t, jobsOf(t, pool, partnerID), 2)
	queued := jobsOf(t, pool, other)
	require.Len(t, queued, 1)
	assert.Equal(t, "req_2", queued[0].EventID)

	// A replay of the whole batch stores and queues nothing; an invalid entry refuses it all.
	require.NoError(t, pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		var err error
		stored, err = milestone.RecordAll(context.Background(), tx, jobs, batch)
		return err
	}))
	assert.Empty(t, stored)
	err = pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		_, err := milestone.RecordAll(context.Background(), tx, jobs, append(batch, milestone.Reached{PartnerID: other, Milestone: "first_call", At: at, Source: milestone.FromBackfill}))
		return err
	})
	require.Error(t, err)
	assert.Len(t, jobsOf(t, pool, other), 1)
}
