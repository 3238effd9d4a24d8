package onboarding_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/onboarding"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/internal/testenv"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

type env struct {
	pool  *pgxpool.Pool
	ch    testenv.ClickHouse
	api   humatest.TestAPI
	store *logquery.Store
}

// setup serves the onboarding operations on a migrated database, with the real request
// log store on a migrated ClickHouse database; activity, when set, replaces the store.
func setup(t *testing.T, activity onboarding.Activity) env {
	t.Helper()
	e := env{pool: partnertest.DB(t), ch: testenv.NewClickHouse(t)}
	require.NoError(t, schema.Migrate(context.Background(), e.ch.Conn, e.ch.Database))
	var err error
	e.store, err = logquery.New(e.ch.Conn, e.ch.Database)
	require.NoError(t, err)
	if activity == nil {
		activity = e.store
	}
	svc, err := onboarding.New(onboarding.Config{Milestones: e.pool, Activity: activity, Now: func() time.Time { return now }})
	require.NoError(t, err)
	_, e.api = humatest.New(t)
	e.api.UseMiddleware(partnertest.Middleware)
	onboarding.Register(e.api, onboarding.Deps{Service: svc, RBAC: partnertest.Checker{}})
	return e
}

// reach stores milestones for partnerID, each the given time after signup (signup is a
// day before now).
func (e env) reach(t *testing.T, partnerID string, after map[milestone.Name]time.Duration) {
	t.Helper()
	signup := now.Add(-24 * time.Hour)
	require.NoError(t, pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
		for name, d := range after {
			if _, err := milestone.Record(context.Background(), tx, nil, milestone.Reached{PartnerID: partnerID, Milestone: name,
				At: signup.Add(d), EventID: "evt_" + string(name), Source: milestone.FromBackfill}); err != nil {
				return err
			}
		}
		return nil
	}))
}

// request stores one request_logs row.
func (e env) request(t *testing.T, partnerID, id string, at time.Time, status uint16, denial string) {
	t.Helper()
	decision := "allow"
	if denial != "" {
		decision = "deny"
	}
	batch, err := e.ch.Conn.PrepareBatch(context.Background(), "INSERT INTO "+warehouse.QuoteIdentifier(e.ch.Database)+
		".request_logs (ts, timestamp_ms, request_id, partner_id, environment, status, decision, denial_code)")
	require.NoError(t, err)
	require.NoError(t, batch.Append(at.Truncate(time.Second), uint64(at.UnixMilli()), id, partnerID, "test", status, decision, denial))
	require.NoError(t, batch.Send())
}

func (e env) get(t *testing.T, as auth.Principal, path string) (int, onboarding.Onboarding, string) {
	t.Helper()
	resp := e.api.Get(path, partnertest.Header(as))
	var o onboarding.Onboarding
	if resp.Code == http.StatusOK {
		require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &o))
	}
	return resp.Code, o, resp.Body.String()
}

func seconds(d time.Duration) *int64 {
	s := int64(d / time.Second)
	return &s
}

func TestANewPartnerSeesTheChecklistAndTheFirstStep(t *testing.T) {
	e := setup(t, nil)
	tn := partnertest.Seed(t, e.pool, "Fresh", false)
	e.reach(t, tn.PartnerID, map[milestone.Name]time.Duration{milestone.SignedUp: 0})

	code, o, body := e.get(t, tn.Owner, "/v1/onboarding")
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, tn.PartnerID, o.PartnerID)
	assert.False(t, o.Activated)
	require.Len(t, o.Checklist, len(milestone.Funnel))
	for i, step := range o.Checklist {
		assert.Equal(t, milestone.Funnel[i], step.Milestone, "funnel order")
		assert.Equal(t, i == 0, step.Done, step.Milestone)
		assert.NotEmpty(t, step.Title)
		assert.Regexp(t, `^/docs/`, step.Doc)
	}
	assert.True(t, now.Add(-24*time.Hour).Equal(*o.Checklist[0].ReachedAt))
	assert.Equal(t, "evt_signed_up", o.Checklist[0].EventID)
	require.NotNil(t, o.Next)
	assert.Equal(t, milestone.FirstKey, o.Next.Milestone)
	assert.Equal(t, "/app/keys", o.Next.Portal)
	assert.False(t, o.Next.WaitingOnSteller)
	assert.Equal(t, onboarding.Durations{}, o.Durations)
	assert.Equal(t, onboarding.StuckNo, o.StuckState)
	assert.Nil(t, o.Stuck)
}

func TestTheTimesToValueAndTheNextStepFollowTheMilestones(t *testing.T) {
	e := setup(t, nil)
	tn := partnertest.Seed(t, e.pool, "Progress", false)
	e.reach(t, tn.PartnerID, map[milestone.Name]time.Duration{
		milestone.SignedUp: 0, milestone.FirstKey: 3 * time.Minute, milestone.FirstSandboxCall: 4*time.Minute + 30*time.Second,
		milestone.FirstSandboxOrder: 9 * time.Minute, milestone.LiveRequested: 2 * time.Hour,
	})
	_, o, _ := e.get(t, tn.Developer, "/v1/onboarding")
	assert.Equal(t, onboarding.Durations{TimeToFirstCall: seconds(270 * time.Second), TimeToFirstSandboxOrder: seconds(9 * time.Minute)}, o.Durations)
	// Out of order: the webhook step comes before the live request in the funnel.
	require.NotNil(t, o.Next)
	assert.Equal(t, milestone.FirstWebhookDelivered, o.Next.Milestone)

	e.reach(t, tn.PartnerID, map[milestone.Name]time.Duration{milestone.FirstWebhookDelivered: 10 * time.Minute})
	_, o, _ = e.get(t, tn.Developer, "/v1/onboarding")
	require.NotNil(t, o.Next)
	assert.Equal(t, milestone.LiveApproved, o.Next.Milestone)
	assert.True(t, o.Next.WaitingOnSteller, "the review is Steller's step")

	e.reach(t, tn.PartnerID, map[milestone.Name]time.Duration{milestone.LiveApproved: 3 * time.Hour,
		milestone.FirstLiveKey: 4 * time.Hour, milestone.FirstLiveCall: 5 * time.Hour, milestone.FirstLiveOrder: 6*time.Hour + 1500*time.Millisecond})
	_, o, _ = e.get(t, tn.Finance, "/v1/onboarding")
	assert.True(t, o.Activated)
	assert.Nil(t, o.Next, "nothing left to do")
	assert.Equal(t, seconds(6*time.Hour+time.Second), o.Durations.TimeToActivation, "whole seconds, rounded down")
	for _, step := range o.Checklist {
		assert.True(t, step.Done, step.Milestone)
	}
}

func TestTheStuckHintNamesTheFailureAndItsDocForRolesThatReadLogs(t *testing.T) {
	e := setup(t, nil)
	tn := partnertest.Seed(t, e.pool, "Stuck", false)
	other := partnertest.Seed(t, e.pool, "Other", false)
	e.reach(t, tn.PartnerID, map[milestone.Name]time.Duration{milestone.SignedUp: 0})
	e.request(t, tn.PartnerID, "req_ok", now.Add(-3*time.Hour), 200, "")
	for i, id := range []string{"req_1", "req_2", "req_3"} {
		e.request(t, tn.PartnerID, id, now.Add(-time.Duration(2+i)*time.Minute), 403, "ip_not_allowed")
	}
	e.request(t, tn.PartnerID, "req_4", now.Add(-time.Minute), 422, "")
	e.request(t, other.PartnerID, "req_other", now.Add(-time.Minute), 200, "") // another partner's success

	for _, as := range []auth.Principal{tn.Owner, tn.Developer} {
		_, o, _ := e.get(t, as, "/v1/onboarding")
		require.Equal(t, onboarding.StuckYes, o.StuckState, as.Role)
		require.NotNil(t, o.Stuck)
		assert.Equal(t, "ip_not_allowed", o.Stuck.Code)
		assert.Equal(t, 403, o.Stuck.Status)
		assert.Equal(t, uint64(3), o.Stuck.Count)
		assert.Equal(t, uint64(4), o.Stuck.Failures)
		assert.Equal(t, "/docs/errors#ip_not_allowed", o.Stuck.Doc)
		assert.Equal(t, "/v1/logs?denial_code=ip_not_allowed", o.Stuck.Logs)
		require.NotNil(t, o.Stuck.LastSuccess)
		assert.True(t, now.Add(-3*time.Hour).Equal(*o.Stuck.LastSuccess))
	}
	// Finance may not read request logs, so it does not see what they hold.
	_, o, _ := e.get(t, tn.Finance, "/v1/onboarding")
	assert.Equal(t, onboarding.StuckHidden, o.StuckState)
	assert.Nil(t, o.Stuck)

	// The admins' view of the partner has the hint.
	code, o, body := e.get(t, partnertest.Admin(), "/v1/admin/partners/"+tn.PartnerID+"/onboarding")
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, onboarding.StuckYes, o.StuckState)

	// A success after the failures ends it.
	e.request(t, tn.PartnerID, "req_fixed", now.Add(-time.Second), 201, "")
	_, o, _ = e.get(t, tn.Owner, "/v1/onboarding")
	assert.Equal(t, onboarding.StuckNo, o.StuckState)
}

type failingActivity struct{}

func (failingActivity) Stuck(context.Context, string, time.Time) (logquery.Stuck, error) {
	return logquery.Stuck{}, errors.New("clickhouse: connection refused")
}

func TestTheChecklistIsServedWhenRequestLogsCannotBeRead(t *testing.T) {
	e := setup(t, failingActivity{})
	tn := partnertest.Seed(t, e.pool, "Degraded", false)
	e.reach(t, tn.PartnerID, map[milestone.Name]time.Duration{milestone.SignedUp: 0, milestone.FirstKey: time.Minute})
	code, o, body := e.get(t, tn.Owner, "/v1/onboarding")
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, onboarding.StuckUnavailable, o.StuckState)
	assert.Nil(t, o.Stuck)
	assert.Equal(t, milestone.FirstSandboxCall, o.Next.Milestone)
	assert.NotContains(t, body, "connection refused", "no internal error reaches the partner")
}

func TestWhoMayReadOnboarding(t *testing.T) {
	e := setup(t, nil)
	tn := partnertest.Seed(t, e.pool, "Access", false)
	e.reach(t, tn.PartnerID, map[milestone.Name]time.Duration{milestone.SignedUp: 0})

	resp := e.api.Get("/v1/onboarding")
	assert.Equal(t, http.StatusUnauthorized, resp.Code, "signed out")
	code, _, _ := e.get(t, partnertest.Admin(), "/v1/onboarding")
	assert.Equal(t, http.StatusForbidden, code, "an admin has no onboarding of its own")
	code, _, _ = e.get(t, tn.Owner, "/v1/admin/partners/"+tn.PartnerID+"/onboarding")
	assert.Equal(t, http.StatusForbidden, code, "partners do not use the admin path")
	code, _, body := e.get(t, partnertest.Admin(), "/v1/admin/partners/ptr_missing/onboarding")
	assert.Equal(t, http.StatusNotFound, code, body)
	// A partner that never recorded signed_up (seeded directly) is still found.
	bare := partnertest.Seed(t, e.pool, "Bare", false)
	code, o, body := e.get(t, partnertest.Admin(), "/v1/admin/partners/"+bare.PartnerID+"/onboarding")
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, milestone.SignedUp, o.Next.Milestone)
}

// A 4xx the upstream answered has no denial code: the hint names its status, and the
// explorer link filters by it.
func TestTheStuckHintOfAnUpstreamRefusalLinksItsStatus(t *testing.T) {
	e := setup(t, nil)
	tn := partnertest.Seed(t, e.pool, "Refused", false)
	e.reach(t, tn.PartnerID, map[milestone.Name]time.Duration{milestone.SignedUp: 0})
	e.request(t, tn.PartnerID, "req_422", now.Add(-time.Minute), 422, "")
	_, o, _ := e.get(t, tn.Owner, "/v1/onboarding")
	require.NotNil(t, o.Stuck)
	assert.Equal(t, "http_422", o.Stuck.Code)
	assert.Equal(t, "/docs/errors#http_422", o.Stuck.Doc)
	assert.Equal(t, "/v1/logs?status=422", o.Stuck.Logs)
}
