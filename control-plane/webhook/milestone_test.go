package webhook_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/milestone/milestonetest"
	"github.com/steller/platform/control-plane/webhook"
)

// first_webhook_delivered is reached by the first attempt the partner's endpoint answers
// 2xx (not by a failed one), with the delivery's id and the attempt's time, in the
// attempt's transaction; its milestone_reached job runs on the same River client as the
// deliveries.
func TestTheFirstDeliveryAnswered2xxReachesFirstWebhookDelivered(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	rc := newReceiver(t, e.clock)
	rc.respond = func(n, _ int, w http.ResponseWriter, _ *http.Request) bool {
		if n > 1 {
			return false
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}
	ep := e.createEndpoint(t, rc.srv.URL)
	rc.setSecrets(ep.Secret)
	require.Equal(t, 1, e.send(t, "evt_first", webhook.EventOrderCompleted))
	id := e.deliveryID(t, "evt_first", ep.ID)

	e.waitJob(t, id, "retryable")
	rows, _ := milestonetest.Stored(t, e.pool, e.tenant.PartnerID)
	assert.Empty(t, rows, "a 503 reaches nothing")

	at := e.failThrough(t, id, 5*time.Second)
	e.waitJob(t, id, "completed")
	require.Equal(t, 1, e.send(t, "evt_second", webhook.EventOrderCompleted))
	e.waitJob(t, e.deliveryID(t, "evt_second", ep.ID), "completed")

	rows, queued := milestonetest.Stored(t, e.pool, e.tenant.PartnerID)
	require.Len(t, rows, 1)
	assert.Equal(t, milestone.FirstWebhookDelivered, rows[0].Milestone)
	assert.Equal(t, id, rows[0].EventID)
	assert.True(t, at[1].Equal(rows[0].At), "reached at the successful attempt, %v; stored %v", at[1], rows[0].At)
	assert.Equal(t, milestone.FromWebhook, rows[0].Source)
	require.Len(t, queued, 1)
	require.Eventually(t, func() bool {
		var state string
		err := e.pool.QueryRow(context.Background(), `SELECT state FROM river_job WHERE kind = 'milestone_reached' AND args->>'partner_id' = $1`,
			e.tenant.PartnerID).Scan(&state)
		return err == nil && state == "completed"
	}, 15*time.Second, 10*time.Millisecond, "the milestone_reached job is worked on the deliveries' client")
}
