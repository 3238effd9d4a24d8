package webhook_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/control-plane/quota"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/testenv"
)

// limitProblem is the part of a limit's problem document the tests check.
type limitProblem struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func endpointBody(url string, enabled bool) map[string]any {
	return map[string]any{"url": url, "environment": "test", "event_types": []string{"order.completed"}, "enabled": enabled}
}

// TestTheEndpointLimitCountsAWorkspacesEndpoints: past the limit a creation is a 409
// webhook_endpoint_limit_reached problem; disabled endpoints count, deleted ones do not,
// and another workspace has its own.
func TestTheEndpointLimitCountsAWorkspacesEndpoints(t *testing.T) {
	t.Parallel()
	e := setup(t, options{noWorker: true, endpointLimit: 2})
	first := e.createEndpoint(t, "https://hooks.example.com/a")
	require.Equal(t, http.StatusCreated, e.api.Post("/v1/webhooks/endpoints", e.as, endpointBody("https://hooks.example.com/b", false)).Code)

	resp := e.api.Post("/v1/webhooks/endpoints", e.as, endpointBody("https://hooks.example.com/c", true))
	require.Equal(t, http.StatusConflict, resp.Code, resp.Body.String())
	p := decode[limitProblem](t, resp)
	assert.Equal(t, fault.CodeWebhookEndpointLimitReached, p.Code)
	assert.Equal(t, "https://steller.dev/docs/errors#webhook_endpoint_limit_reached", p.Type)
	assert.Contains(t, p.Detail, "2 webhook endpoints")
	var stored int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_endpoints`).Scan(&stored))
	assert.Equal(t, 2, stored, "a refused creation stores nothing")

	other := partnertest.Seed(t, e.pool, "Other", false)
	resp = e.api.Post("/v1/webhooks/endpoints", partnertest.Header(other.Owner), endpointBody("https://hooks.example.com/o", true))
	require.Equal(t, http.StatusCreated, resp.Code, "the limit is per workspace: %s", resp.Body.String())

	require.Equal(t, http.StatusNoContent, e.api.Delete("/v1/webhooks/endpoints/"+first.ID, e.as).Code)
	e.createEndpoint(t, "https://hooks.example.com/d") // a deleted endpoint frees its slot
}

// TestTwoEndpointCreationsCannotBothTakeTheLastSlot lines creations up behind a lock on
// the workspace row and lets them go at once: with one slot free, exactly one gets it.
// Without the limit's lock they would wait only at their insert's foreign-key check, after
// each had counted a free slot.
func TestTwoEndpointCreationsCannotBothTakeTheLastSlot(t *testing.T) {
	t.Parallel()
	const racers = 4 // the service's pool has 4 connections: one each
	e := setup(t, options{noWorker: true, endpointLimit: 2})
	ctx := context.Background()
	e.createEndpoint(t, "https://hooks.example.com/existing")
	side, err := pgxpool.New(ctx, e.pool.Config().ConnString()) // the gate and the probe, apart from the racers' pool
	require.NoError(t, err)
	defer side.Close()

	gate, err := side.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = gate.Rollback(ctx) }()
	_, err = gate.Exec(ctx, `SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE`, e.tenant.WorkspaceID)
	require.NoError(t, err)
	results := make(chan error, racers)
	for i := range racers {
		go func() {
			_, _, err := e.svc.CreateEndpoint(ctx, e.tenant.Owner, webhook.EndpointSettings{Environment: "test",
				URL: "https://hooks.example.com/racer/" + strconv.Itoa(i), EventTypes: []string{"order.completed"}, Enabled: true})
			results <- err
		}()
	}
	testenv.AwaitLockWaiters(t, side, racers, "every creation waits behind the gate")
	require.NoError(t, gate.Commit(ctx))

	created := 0
	for range racers {
		select {
		case err := <-results:
			if err == nil {
				created++
				continue
			}
			var fe *fault.Error
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, fault.CodeWebhookEndpointLimitReached, fe.Code)
		case <-time.After(10 * time.Second):
			t.Fatal("a creation did not finish")
		}
	}
	assert.Equal(t, 1, created, "exactly one creation takes the last slot")
}

// TestTestSendsAreLimitedPerPartner: past the rate a test send is a 429
// webhook_test_rate_limited problem with Retry-After, queues nothing, and leaves other
// partners alone; the next window allows sends again.
func TestTestSendsAreLimitedPerPartner(t *testing.T) {
	t.Parallel()
	e := setup(t, options{noWorker: true, testSends: quota.Rate{Requests: 3, Per: time.Minute}})
	ep := e.createEndpoint(t, "https://hooks.example.com/t")
	for range 3 {
		require.Equal(t, http.StatusAccepted, e.api.Post("/v1/webhooks/endpoints/"+ep.ID+"/test", e.as).Code)
	}
	e.clock.Advance(20 * time.Second)
	resp := e.api.Post("/v1/webhooks/endpoints/"+ep.ID+"/test", e.as)
	require.Equal(t, http.StatusTooManyRequests, resp.Code, resp.Body.String())
	assert.Equal(t, "40", resp.Header().Get("Retry-After"), "the window ends 40 s from now")
	p := decode[limitProblem](t, resp)
	assert.Equal(t, fault.CodeWebhookTestRateLimited, p.Code)
	assert.Equal(t, "https://steller.dev/docs/errors#webhook_test_rate_limited", p.Type)
	assert.Contains(t, p.Detail, "3 per 1m")
	var queued int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries`).Scan(&queued))
	assert.Equal(t, 3, queued, "a refused send queues nothing")

	other := partnertest.Seed(t, e.pool, "Other", false)
	as := partnertest.Header(other.Owner)
	theirs := decode[createdEndpoint](t, e.api.Post("/v1/webhooks/endpoints", as, endpointBody("https://hooks.example.com/o", true)))
	require.Equal(t, http.StatusAccepted, e.api.Post("/v1/webhooks/endpoints/"+theirs.ID+"/test", as).Code, "the limit is per partner")

	e.clock.Advance(40 * time.Second)
	require.Equal(t, http.StatusAccepted, e.api.Post("/v1/webhooks/endpoints/"+ep.ID+"/test", e.as).Code, "a new window")
}

// TestConcurrentTestSendsTakeExactlyTheLimit: sends racing for the partner's last slots get
// exactly as many as the limit allows.
func TestConcurrentTestSendsTakeExactlyTheLimit(t *testing.T) {
	t.Parallel()
	const limit, racers = 3, 12
	e := setup(t, options{noWorker: true, testSends: quota.Rate{Requests: limit, Per: time.Minute}})
	ep := e.createEndpoint(t, "https://hooks.example.com/t")
	results := make(chan error, racers)
	for range racers {
		go func() {
			_, err := e.svc.SendTest(context.Background(), e.tenant.Owner, ep.ID)
			results <- err
		}()
	}
	sent := 0
	for range racers {
		err := <-results
		if err == nil {
			sent++
			continue
		}
		assert.ErrorIs(t, err, fault.ErrRateLimited)
	}
	assert.Equal(t, limit, sent)
}
