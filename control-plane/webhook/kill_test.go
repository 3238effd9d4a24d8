package webhook_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kafkatopic "github.com/steller/platform/analytics/topic"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/testenv"
)

// webhookChildEnv carries the child's configuration (JSON) when the test binary runs as the
// webhook process of TestSIGKILLMidRetryDeliversEveryEventOnce.
const webhookChildEnv = "STELLER_WEBHOOK_CHILD_CONFIG"

type webhookChildConfig struct {
	DatabaseURL          string
	Brokers              []string
	Topic, Group         string
	Timeout, RescueAfter time.Duration
}

// TestWebhookChildProcess is not a test on its own: TestSIGKILLMidRetryDeliversEveryEventOnce
// re-executes the test binary with webhookChildEnv set to run it as a webhook process (the
// dispatcher and a River client working deliveries), which it then kills.
func TestWebhookChildProcess(t *testing.T) {
	t.Parallel()
	var c webhookChildConfig
	if !testenv.ChildConfig(t, webhookChildEnv, &c) {
		t.Skip("runs only as the child process of TestSIGKILLMidRetryDeliversEveryEventOnce")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pool, err := pgxpool.New(ctx, c.DatabaseURL)
	require.NoError(t, err)
	defer pool.Close()
	worker, err := webhook.NewWorker(webhook.WorkerConfig{Pool: pool, Logger: log,
		Guard: webhook.Guard{AllowPrivateNetworks: true}, Timeout: c.Timeout})
	require.NoError(t, err)
	queue, err := webhook.NewClient(webhook.ClientConfig{Pool: pool, Logger: log, Worker: worker,
		RescueStuckJobsAfter: c.RescueAfter})
	require.NoError(t, err)
	svc, err := webhook.New(webhook.Config{Pool: pool, Queue: queue, Logger: log})
	require.NoError(t, err)
	d, err := webhook.NewDispatcher(webhook.DispatcherConfig{Brokers: c.Brokers, Topic: c.Topic, GroupID: c.Group,
		Service: svc, Logger: log, SessionTimeout: 6 * time.Second})
	require.NoError(t, err)
	require.NoError(t, queue.Start(ctx))
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = queue.Stop(stopCtx)
	}()
	require.NoError(t, d.Run(ctx))
}

// spawnWebhookChild starts the test binary as a webhook process; it is killed when the test
// ends, and its output (warnings and errors) is shown if the test failed.
func spawnWebhookChild(t *testing.T, c webhookChildConfig) *exec.Cmd {
	t.Helper()
	return testenv.SpawnChild(t, "TestWebhookChildProcess", webhookChildEnv, c)
}

// heldSet records the webhook-ids of the requests a receiver is holding open.
type heldSet struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (h *heldSet) hold(rc *receiver, r *http.Request) {
	id := r.Header.Get("webhook-id")
	h.mu.Lock()
	h.ids[id] = true
	h.mu.Unlock()
	rc.hang(r)
	h.mu.Lock()
	delete(h.ids, id)
	h.mu.Unlock()
}

func (h *heldSet) now() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for id := range h.ids {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// retryWaiting makes every waiting delivery job runnable at once (standing in for time
// passing), as retryNow does, and also the ones River keeps available with a scheduled_at
// a few seconds ahead (a retry due within its scheduler's 5 s interval, such as the first
// retry on the real clock). It sets what JobRetry sets, in one statement: retryNow's
// JobRetry by id would run again a job that a running worker completed since the select.
func (e *env) retryWaiting(t testing.TB) int {
	t.Helper()
	tag, err := e.pool.Exec(context.Background(), `UPDATE river_job SET state = 'available', scheduled_at = now()
WHERE state IN ('retryable', 'scheduled') OR (state = 'available' AND scheduled_at > now())`)
	require.NoError(t, err)
	return int(tag.RowsAffected())
}

// runningJob is a River job the killed process left in state running.
type runningJob struct {
	ID      int64
	EventID string
	Attempt int
}

// A webhook process (dispatcher and River worker) SIGKILLed mid-retry, with answers in flight,
// leaves its jobs running in river_job; a process started on the same database and consumer
// group has River's rescuer retry them, and every event reaches a receiver that dedupes by
// webhook-id. Only the events whose request was in flight at the kill come twice.
func TestSIGKILLMidRetryDeliversEveryEventOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, options{noWorker: true}) // the child processes work the deliveries
	k := testenv.NewKafka(t)
	topic := k.Topic(t, "order-events", 2)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = kafkatopic.Delete(ctx, k.Brokers, topic+".dlq") // made by the dispatcher
	})
	const before, after = 30, 10 // events produced before and after the kill

	// Every event fails its first attempt; every third one its second too, so it waits
	// minutes for a third. Until the kill, the webhooks of every fourth event that land at
	// their second attempt are processed but not answered: the receiver has them, the
	// worker is still waiting.
	rc := newReceiver(t, e.clock)
	rc.now = time.Now // the children sign with the real clock
	var holding atomic.Bool
	holding.Store(true)
	held := &heldSet{ids: map[string]bool{}}
	eventNumber := func(r *http.Request) int {
		var n int
		_, _ = fmt.Sscanf(r.Header.Get("webhook-id"), "evt_%d", &n)
		return n
	}
	rc.respond = func(_, call int, w http.ResponseWriter, r *http.Request) bool {
		if call == 1 || (call == 2 && eventNumber(r)%3 == 0) {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	}
	rc.answer = func(_ int, _ http.ResponseWriter, r *http.Request) bool {
		if !holding.Load() || eventNumber(r)%4 != 0 {
			return false
		}
		held.hold(rc, r)
		return true
	}
	ep := e.createEndpoint(t, rc.srv.URL, webhook.EventOrderCompleted)
	rc.setSecrets(ep.Secret) // after rc.now: the handlers read it once they have locked rc.mu
	var holdable []string    // the webhooks of every fourth event, processed at their second attempt
	for n := 4; n <= before; n += 4 {
		if n%3 != 0 {
			holdable = append(holdable, fmt.Sprintf("evt_%03d", n))
		}
	}

	// A child's HTTP timeout ends a held request, so it is 2 s: room for the parent to see
	// the held requests and kill the child while they are in flight. It is short because
	// River's rescuer leaves a running job alone until its job timeout has passed, and
	// refuses a RescueStuckJobsAfter below it; the job timeout is Worker.Timeout, the HTTP
	// timeout plus 15 s of bookkeeping (17 s). The rescue comes a second after it.
	probe, err := webhook.NewWorker(webhook.WorkerConfig{Pool: e.pool, Logger: slog.New(slog.DiscardHandler),
		Timeout: 2 * time.Second})
	require.NoError(t, err)
	child := webhookChildConfig{DatabaseURL: e.pool.Config().ConnString(), Brokers: k.Brokers, Topic: topic,
		Group: "wh-kill-" + ep.ID, Timeout: 2 * time.Second, RescueAfter: probe.Timeout(nil) + time.Second}

	produce(t, k.Brokers, topic, e.orderEvents(1, before)...)
	first := spawnWebhookChild(t, child)
	require.Eventually(t, func() bool {
		return e.count(t, `SELECT count(*) FROM webhook_deliveries d JOIN river_job j ON j.args->>'delivery_id' = d.id
WHERE d.attempts = 1 AND d.status = 'pending' AND j.state IN ('available', 'retryable')`) == before
	}, 40*time.Second, 20*time.Millisecond, "every event's first attempt failed")

	// The second attempts now (standing in for the 5 s wait): the held webhooks stay in
	// flight, every third event fails again, the others land. The kill comes once the
	// worker has recorded all the others (in milliseconds, well within the held requests'
	// 2 s timeout); River may not have marked their jobs done yet.
	e.retryWaiting(t)
	require.Eventually(t, func() bool {
		return len(held.now()) == len(holdable) &&
			e.count(t, `SELECT count(*) FROM webhook_deliveries WHERE attempts = 2`) == before-len(holdable)
	}, 20*time.Second, 5*time.Millisecond, "the held webhooks are in flight and every other second attempt is recorded")
	holding.Store(false)
	inFlight := held.now()
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	require.Equal(t, holdable, inFlight)

	rows, _ := e.pool.Query(t.Context(), `SELECT j.id, d.event_id, j.attempt FROM river_job j
JOIN webhook_deliveries d ON d.id = j.args->>'delivery_id' WHERE j.state = 'running' ORDER BY d.event_id`)
	running, err := pgx.CollectRows(rows, pgx.RowToStructByPos[runningJob])
	require.NoError(t, err)
	runningEvents := map[string]bool{}
	for _, j := range running {
		runningEvents[j.EventID] = true
	}
	for _, id := range inFlight {
		assert.True(t, runningEvents[id], "%s: the job of a held webhook is left running", id)
	}
	t.Logf("SIGKILL with %d webhooks held, %d deliveries delivered, %d waiting for a third attempt; %d jobs left running",
		len(inFlight), e.deliveries(t, webhook.StatusDelivered),
		e.count(t, `SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND attempts = 2`), len(running))

	// Events the dead process never saw wait in Kafka for the consumer group.
	produce(t, k.Brokers, topic, e.orderEvents(before+1, before+after)...)

	// River's rescuer runs on the leader only, when a client gains leadership and then
	// every 30 s. The restarted process comes once the killed one's leadership has expired
	// (15 s) and its jobs are past RescueStuckJobsAfter, as a restart a little later would:
	// its first rescue run finds them, where an earlier start would wait 30 s for the next.
	require.Eventually(t, func() bool {
		return e.count(t, `SELECT count(*) FROM river_leader WHERE expires_at > now()`) == 0 &&
			e.count(t, `SELECT count(*) FROM river_job WHERE state = 'running'
	AND attempted_at > now() - make_interval(secs => $1)`, (child.RescueAfter+time.Second).Seconds()) == 0
	}, 40*time.Second, 50*time.Millisecond, "the killed process's lease and jobs expire")
	spawnWebhookChild(t, child)

	// Retries wait minutes after a second attempt, rescued jobs too: make them due at once.
	total := before + after
	require.Eventually(t, func() bool {
		e.retryWaiting(t)
		return e.deliveries(t, webhook.StatusDelivered) == total &&
			e.count(t, `SELECT count(*) FROM river_job WHERE state <> 'completed'`) == 0
	}, 40*time.Second, 50*time.Millisecond, "every event delivered and every job completed after the restart")

	assert.Equal(t, total, e.count(t, `SELECT count(*) FROM webhook_deliveries`), "replayed events add no delivery")
	accepted := rc.accepted()
	assert.Len(t, accepted, total, "every webhook-id processed")
	var duplicates []string
	for id, n := range accepted {
		if n > 1 {
			duplicates = append(duplicates, id)
			assert.Equal(t, 2, n, "%s: processed at most twice", id)
			assert.True(t, runningEvents[id], "%s came twice, but its job was not running at the kill", id)
		}
	}
	slices.Sort(duplicates)
	// Only a request in flight at the kill can come twice, its answer lost with the process;
	// here those are the held ones.
	assert.Equal(t, inFlight, duplicates, "the held webhooks, and only they, came again after the rescue")
	assert.Zero(t, e.count(t, `SELECT count(*) FROM (SELECT delivery_id FROM webhook_attempts
WHERE status_code BETWEEN 200 AND 299 GROUP BY delivery_id HAVING count(*) > 1) twice`), "nothing is sent again after a recorded 2xx")

	// Every job the killed process left running was rescued and run again by the new one.
	for _, j := range running {
		var attempt, clients int
		var rescued bool
		require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT attempt,
	(SELECT count(DISTINCT c) FROM unnest(attempted_by) c),
	EXISTS (SELECT 1 FROM unnest(errors) err WHERE err->>'error' = 'Stuck job rescued by JobRescuer')
FROM river_job WHERE id = $1`, j.ID).Scan(&attempt, &clients, &rescued))
		assert.True(t, rescued, "%s: rescued", j.EventID)
		assert.Equal(t, j.Attempt+1, attempt, "%s: run once more after the rescue", j.EventID)
		assert.Equal(t, 2, clients, "%s: run by both processes", j.EventID)
	}
	// A rescued job whose attempt was recorded sent nothing more: the receiver got one
	// request per logged attempt. The killed attempt of a held webhook left no row in the
	// attempt log, so the receiver got one request more than the log shows.
	rows, _ = e.pool.Query(t.Context(), `SELECT event_id, attempts FROM webhook_deliveries`)
	logged, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		EventID  string
		Attempts int
	}])
	require.NoError(t, err)
	rc.mu.Lock()
	for _, d := range logged {
		want := d.Attempts
		if slices.Contains(inFlight, d.EventID) {
			want++
		}
		assert.Equal(t, want, rc.perID[d.EventID], "%s: requests the receiver got", d.EventID)
	}
	rc.mu.Unlock()
	t.Logf("%d events delivered; %d came twice to the receiver, all in flight at the kill; %d jobs rescued",
		total, len(duplicates), len(running))
}
