package liverequest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/readinessquery"
	"github.com/steller/platform/control-plane/api/apitest"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/liverequest"
	"github.com/steller/platform/control-plane/partner"
)

// fakeTraffic answers the readiness queries with fixed figures (the flow tests are about
// the requests; readiness_test.go checks the figures against ClickHouse).
type fakeTraffic struct{ err error }

func (f fakeTraffic) Traffic(context.Context, string, time.Time, time.Time) (readinessquery.Traffic, error) {
	return readinessquery.Traffic{Requests: 10, Orders: 2, OrdersWithKey: 2}, f.err
}

func (f fakeTraffic) Retries(context.Context, string, time.Time, time.Time) (readinessquery.Retries, error) {
	return readinessquery.Retries{}, f.err
}

type env struct {
	*apitest.Env
	admin string
}

func setup(t *testing.T, traffic liverequest.Traffic) env {
	t.Helper()
	e := apitest.New(t)
	logger := slog.New(slog.DiscardHandler)
	keys, err := apikey.New(apikey.Config{Pool: e.Pool, Logger: logger, Clock: e.Clock.Now})
	require.NoError(t, err)
	apikey.Register(e.API.Huma(), apikey.Deps{Keys: keys, RBAC: e.API.Checker()})
	partners, err := partner.New(partner.Config{Pool: e.Pool, Logger: logger, Clock: e.Clock.Now})
	require.NoError(t, err)
	partner.Register(e.API.Huma(), partner.Deps{Partners: partners, RBAC: e.API.Checker()})
	svc, err := liverequest.New(liverequest.Config{Pool: e.Pool, Partners: partners, Traffic: traffic, Logger: logger, Clock: e.Clock.Now})
	require.NoError(t, err)
	liverequest.Register(e.API.Huma(), liverequest.Deps{Service: svc, RBAC: e.API.Checker()})
	return env{Env: e, admin: e.AdminSession()}
}

func validRequest() map[string]any {
	return map[string]any{
		"legal_name": "Acme Gifts GmbH", "website": "https://acme.example", "country": "DE",
		"expected_monthly_volume_cents": 2_500_000, "use_case": "Employee rewards: we buy gift cards for our clients' staff.",
	}
}

func decode[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(raw, &v), string(raw))
	return v
}

// state is everything a live request can change, to show that refused input changes nothing.
func (e env) state(t *testing.T) string {
	t.Helper()
	var s string
	require.NoError(t, e.Pool.QueryRow(context.Background(), `SELECT concat_ws(' ',
		(SELECT count(*) FROM live_requests), (SELECT count(*) FROM live_requests WHERE status <> 'pending'),
		(SELECT count(*) FROM audit_log), (SELECT count(*) FROM onboarding_milestones),
		(SELECT count(*) FROM partners WHERE live_approved_at IS NOT NULL), (SELECT count(*) FROM edge_changes))`).Scan(&s))
	return s
}

func (e env) milestones(t *testing.T, partnerID string) map[string]string {
	t.Helper()
	rows, err := e.Pool.Query(context.Background(), `SELECT milestone, event_id FROM onboarding_milestones WHERE partner_id = $1`, partnerID)
	require.NoError(t, err)
	out := map[string]string{}
	for rows.Next() {
		var m, id string
		require.NoError(t, rows.Scan(&m, &id))
		out[m] = id
	}
	require.NoError(t, rows.Err())
	return out
}

func liveKey(e env, token string) apitest.Response {
	return e.Do(http.MethodPost, "/v1/keys", token, map[string]any{"name": "Live", "environment": "live", "roles": []string{"orders:write"}})
}

// The whole flow through the API: a request and its conflicts, the admin's review with the
// readiness report, approval letting the partner create live keys, and the milestones.
func TestRequestApproveThenLiveKeys(t *testing.T) {
	t.Parallel()
	e := setup(t, fakeTraffic{})
	p := e.Signup("Acme Gifts")

	require.Equal(t, http.StatusForbidden, liveKey(e, p.Token).Status, "not live yet")
	res := e.Do(http.MethodPost, "/v1/live-requests", p.Token, validRequest())
	require.Equal(t, http.StatusCreated, res.Status, string(res.Body))
	created := decode[liverequest.LiveRequest](t, res.Body)
	assert.Equal(t, liverequest.StatusPending, created.Status)
	assert.Equal(t, p.PartnerID, created.PartnerID)
	assert.Equal(t, "DE", created.Country)
	assert.Equal(t, int64(2_500_000), created.ExpectedMonthlyVolume)
	assert.Equal(t, created.ID, e.milestones(t, p.PartnerID)["live_requested"], "live_requested records the request")

	before := e.state(t)
	res = e.Do(http.MethodPost, "/v1/live-requests", p.Token, validRequest())
	require.Equal(t, http.StatusConflict, res.Status, string(res.Body))
	assert.Equal(t, liverequest.CodeRequestPending, res.JSON(t)["code"])
	assert.Equal(t, before, e.state(t), "a conflict changes nothing")

	res = e.Do(http.MethodGet, "/v1/live-requests", p.Token, nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	list := decode[liverequest.LiveRequestList](t, res.Body)
	require.Len(t, list.Requests, 1)
	assert.Equal(t, created.ID, list.Requests[0].ID)

	res = e.Do(http.MethodGet, "/v1/admin/live-requests?status=pending", e.admin, nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	assert.Equal(t, []string{created.ID}, ids(decode[liverequest.LiveRequestList](t, res.Body)))
	res = e.Do(http.MethodGet, "/v1/admin/live-requests/"+created.ID, e.admin, nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	reviewed := decode[liverequest.ReviewedLiveRequest](t, res.Body)
	assert.Equal(t, created.ID, reviewed.ID)
	var names []string
	for _, c := range reviewed.Readiness.Checks {
		names = append(names, c.Name)
		assert.NotEmpty(t, c.Doc, c.Name)
		assert.Contains(t, []string{"pass", "warn", "fail"}, c.Verdict, c.Name)
	}
	assert.Equal(t, []string{"idempotency_keys", "webhook_endpoint", "ip_allowlist", "error_rate", "retry_backoff"}, names)
	assert.Equal(t, "fail", reviewed.Readiness.Verdict, "no webhook endpoint fails the report")

	res = e.Do(http.MethodPost, "/v1/admin/live-requests/"+created.ID+"/approve", e.admin, nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	assert.Equal(t, liverequest.StatusApproved, decode[liverequest.LiveRequest](t, res.Body).Status)
	ms := e.milestones(t, p.PartnerID)
	assert.Equal(t, created.ID, ms["live_approved"])
	var actions []string
	rows, err := e.Pool.Query(context.Background(), `SELECT action FROM audit_log WHERE partner_id = $1 AND action LIKE '%live%' ORDER BY id`, p.PartnerID)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actions = append(actions, a)
	}
	assert.Equal(t, []string{"live_request.created", "partner.live_approved", "live_request.approved"}, actions)

	res = liveKey(e, p.Token)
	require.Equal(t, http.StatusCreated, res.Status, "approved partners create live keys: %s", res.Body)

	before = e.state(t)
	res = e.Do(http.MethodPost, "/v1/admin/live-requests/"+created.ID+"/approve", e.admin, nil)
	require.Equal(t, http.StatusConflict, res.Status, string(res.Body))
	assert.Equal(t, liverequest.CodeAlreadyReviewed, res.JSON(t)["code"])
	res = e.Do(http.MethodPost, "/v1/live-requests", p.Token, validRequest())
	require.Equal(t, http.StatusConflict, res.Status, string(res.Body))
	assert.Equal(t, liverequest.CodeAlreadyLive, res.JSON(t)["code"])
	assert.Equal(t, before, e.state(t), "conflicts change nothing")
}

func ids(l liverequest.LiveRequestList) []string {
	out := []string{}
	for _, r := range l.Requests {
		out = append(out, r.ID)
	}
	return out
}

// A rejection needs a reason, the partner sees it, stays in the sandbox, and may ask again.
func TestRejectShowsTheReasonAndAllowsANewRequest(t *testing.T) {
	t.Parallel()
	e := setup(t, fakeTraffic{})
	p := e.Signup("Bolt Rewards")
	res := e.Do(http.MethodPost, "/v1/live-requests", p.Token, validRequest())
	require.Equal(t, http.StatusCreated, res.Status, string(res.Body))
	id := decode[liverequest.LiveRequest](t, res.Body).ID

	before := e.state(t)
	for _, body := range []any{map[string]any{}, map[string]any{"reason": ""}, map[string]any{"reason": "   "}} {
		res = e.Do(http.MethodPost, "/v1/admin/live-requests/"+id+"/reject", e.admin, body)
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%v: %s", body, res.Body)
		assert.Contains(t, string(res.Body), "reason")
	}
	res = e.Do(http.MethodPost, "/v1/admin/live-requests/"+id+"/reject", e.admin, nil)
	require.Equal(t, http.StatusBadRequest, res.Status, "no body: %s", res.Body)
	assert.Equal(t, before, e.state(t), "a rejection without a reason changes nothing")

	res = e.Do(http.MethodPost, "/v1/admin/live-requests/"+id+"/reject", e.admin, map[string]any{"reason": "Your website does not name the business."})
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	res = e.Do(http.MethodGet, "/v1/live-requests", p.Token, nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	got := decode[liverequest.LiveRequestList](t, res.Body).Requests
	require.Len(t, got, 1)
	assert.Equal(t, liverequest.StatusRejected, got[0].Status)
	assert.Equal(t, "Your website does not name the business.", got[0].RejectionReason)
	assert.Equal(t, http.StatusForbidden, liveKey(e, p.Token).Status, "a rejected partner stays in the sandbox")
	assert.NotContains(t, e.milestones(t, p.PartnerID), "live_approved")

	res = e.Do(http.MethodPost, "/v1/admin/live-requests/"+id+"/approve", e.admin, nil)
	require.Equal(t, http.StatusConflict, res.Status, "a rejected request cannot be approved: %s", res.Body)
	res = e.Do(http.MethodPost, "/v1/live-requests", p.Token, validRequest())
	require.Equal(t, http.StatusCreated, res.Status, "after a rejection the partner may ask again: %s", res.Body)
	res = e.Do(http.MethodGet, "/v1/admin/live-requests?status=rejected&partner_id="+p.PartnerID, e.admin, nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	assert.Equal(t, []string{id}, ids(decode[liverequest.LiveRequestList](t, res.Body)))
}

// Bad input is a 422 naming the field and changes nothing.
func TestBadInputNamesTheFieldAndChangesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, fakeTraffic{})
	p := e.Signup("Cozy Cards")
	before := e.state(t)
	cases := []struct {
		field string
		value any
	}{
		{"legal_name", ""}, {"legal_name", "A"}, {"legal_name", "Acme\nGifts"}, {"legal_name", "Acme\u0085"},
		{"website", "acme.example"}, {"website", "ftp://acme.example"}, {"website", "https://"}, {"website", "https://u:p@acme.example"}, {"website", "https://acme.example/#x"},
		{"country", "de"}, {"country", "DEU"}, {"country", ""},
		{"expected_monthly_volume_cents", 0}, {"expected_monthly_volume_cents", -5}, {"expected_monthly_volume_cents", "lots"},
		{"use_case", "short"}, {"use_case", strings.Repeat("x", 2001)},
		{"extra", "field"},
	}
	for _, c := range cases {
		body := validRequest()
		body[c.field] = c.value
		res := e.Do(http.MethodPost, "/v1/live-requests", p.Token, body)
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s=%v: %s", c.field, c.value, res.Body)
		assert.Contains(t, string(res.Body), c.field, "%s=%v: the problem names the field", c.field, c.value)
	}
	for _, field := range []string{"legal_name", "website", "country", "expected_monthly_volume_cents", "use_case"} {
		body := validRequest()
		delete(body, field)
		res := e.Do(http.MethodPost, "/v1/live-requests", p.Token, body)
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "without %s: %s", field, res.Body)
		assert.Contains(t, string(res.Body), field)
	}
	res := e.Do(http.MethodGet, "/v1/admin/live-requests?status=open", e.admin, nil)
	assert.Equal(t, http.StatusUnprocessableEntity, res.Status, string(res.Body))
	res = e.Do(http.MethodGet, "/v1/admin/live-requests?cursor=bogus", e.admin, nil)
	assert.Equal(t, http.StatusUnprocessableEntity, res.Status, string(res.Body))
	res = e.Do(http.MethodGet, "/v1/admin/live-requests/lvr_nope", e.admin, nil)
	assert.Equal(t, http.StatusNotFound, res.Status, string(res.Body))
	res = e.Do(http.MethodPost, "/v1/admin/live-requests/lvr_nope/approve", e.admin, nil)
	assert.Equal(t, http.StatusNotFound, res.Status, string(res.Body))
	assert.Equal(t, before, e.state(t), "refused input changes nothing")
}

// Who may do what: Owners ask, every role reads its partner's requests, admins review;
// nobody else.
func TestRoles(t *testing.T) {
	t.Parallel()
	e := setup(t, fakeTraffic{})
	p := e.Signup("Dune Perks")
	dev, fin := e.AddMember(p.WorkspaceID, "developer"), e.AddMember(p.WorkspaceID, "finance")
	before := e.state(t)
	for _, tok := range []string{dev.Token, fin.Token, e.admin, ""} {
		res := e.Do(http.MethodPost, "/v1/live-requests", tok, validRequest())
		assert.Contains(t, []int{http.StatusForbidden, http.StatusUnauthorized}, res.Status, string(res.Body))
	}
	assert.Equal(t, before, e.state(t))
	for _, tok := range []string{p.Token, dev.Token, fin.Token} {
		assert.Equal(t, http.StatusOK, e.Do(http.MethodGet, "/v1/live-requests", tok, nil).Status)
	}
	res := e.Do(http.MethodPost, "/v1/live-requests", p.Token, validRequest())
	require.Equal(t, http.StatusCreated, res.Status, string(res.Body))
	id := decode[liverequest.LiveRequest](t, res.Body).ID
	for _, tok := range []string{p.Token, dev.Token, fin.Token} {
		for _, path := range []string{"/v1/admin/live-requests", "/v1/admin/live-requests/" + id} {
			assert.Equal(t, http.StatusForbidden, e.Do(http.MethodGet, path, tok, nil).Status, path)
		}
		assert.Equal(t, http.StatusForbidden, e.Do(http.MethodPost, "/v1/admin/live-requests/"+id+"/approve", tok, nil).Status)
	}
	// Another partner never sees this one's requests.
	other := e.Signup("Echo Cards")
	res = e.Do(http.MethodGet, "/v1/live-requests", other.Token, nil)
	require.Equal(t, http.StatusOK, res.Status)
	assert.Empty(t, decode[liverequest.LiveRequestList](t, res.Body).Requests)
}

// The admin listing pages with an opaque cursor, newest first, every request once.
func TestAdminListPaginates(t *testing.T) {
	t.Parallel()
	e := setup(t, fakeTraffic{})
	var want []string
	for i := range 5 {
		p := e.Signup(fmt.Sprintf("Page Partner %d", i))
		e.Clock.Advance(time.Second)
		res := e.Do(http.MethodPost, "/v1/live-requests", p.Token, validRequest())
		require.Equal(t, http.StatusCreated, res.Status, string(res.Body))
		want = append([]string{decode[liverequest.LiveRequest](t, res.Body).ID}, want...)
	}
	var got []string
	cursor := ""
	for range 10 {
		res := e.Do(http.MethodGet, "/v1/admin/live-requests?limit=2&cursor="+cursor, e.admin, nil)
		require.Equal(t, http.StatusOK, res.Status, string(res.Body))
		l := decode[liverequest.LiveRequestList](t, res.Body)
		got = append(got, ids(l)...)
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	assert.Equal(t, want, got)
}

// When the request logs cannot be read, the review still shows the request and the
// webhook check, with the edge checks unknown.
func TestReadinessUnavailableIsUnknownNotAnError(t *testing.T) {
	t.Parallel()
	e := setup(t, fakeTraffic{err: fmt.Errorf("clickhouse down")})
	p := e.Signup("Fern Gifts")
	res := e.Do(http.MethodPost, "/v1/live-requests", p.Token, validRequest())
	require.Equal(t, http.StatusCreated, res.Status, string(res.Body))
	res = e.Do(http.MethodGet, "/v1/admin/live-requests/"+decode[liverequest.LiveRequest](t, res.Body).ID, e.admin, nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	rep := decode[liverequest.ReviewedLiveRequest](t, res.Body).Readiness
	verdicts := map[string]string{}
	for _, c := range rep.Checks {
		verdicts[c.Name] = c.Verdict
	}
	assert.Equal(t, map[string]string{"idempotency_keys": "unknown", "webhook_endpoint": "fail", "ip_allowlist": "unknown",
		"error_rate": "unknown", "retry_backoff": "unknown"}, verdicts)
}

// Every problem code of going live has its row in README.md's problem table.
func TestEveryCodeIsInTheProblemTable(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, code := range []string{liverequest.CodeAlreadyLive, liverequest.CodeRequestPending, liverequest.CodeAlreadyReviewed} {
		assert.Contains(t, string(raw), "| `"+code+"` | 409 |", "README.md's problem table has no row for %s", code)
	}
}

// A partner approved through the partner approve-live step while its request was open:
// approving the request records the outcome without a second approval, and the partner
// may create live keys.
func TestApproveAfterDirectApprovalClosesTheRequest(t *testing.T) {
	t.Parallel()
	e := setup(t, fakeTraffic{})
	p := e.Signup("Hale Gifts")
	res := e.Do(http.MethodPost, "/v1/live-requests", p.Token, validRequest())
	require.Equal(t, http.StatusCreated, res.Status, string(res.Body))
	id := decode[liverequest.LiveRequest](t, res.Body).ID
	res = e.Do(http.MethodPost, "/v1/admin/partners/"+p.PartnerID+"/approve-live", e.admin, nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	res = e.Do(http.MethodPost, "/v1/admin/live-requests/"+id+"/approve", e.admin, nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	assert.Equal(t, liverequest.StatusApproved, decode[liverequest.LiveRequest](t, res.Body).Status)
	var approvals int
	require.NoError(t, e.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM audit_log WHERE partner_id = $1 AND action = 'partner.live_approved'`, p.PartnerID).Scan(&approvals))
	assert.Equal(t, 1, approvals, "approved once")
	assert.Equal(t, p.PartnerID, e.milestones(t, p.PartnerID)["live_approved"], "reached by the direct approval, which came first")
	assert.Equal(t, http.StatusCreated, liveKey(e, p.Token).Status)
}

// A suspended partner cannot ask for live access.
func TestSuspendedPartnerCannotAsk(t *testing.T) {
	t.Parallel()
	e := setup(t, fakeTraffic{})
	p := e.Signup("Iris Cards")
	res := e.Do(http.MethodPost, "/v1/admin/partners/"+p.PartnerID+"/suspend", e.admin, map[string]any{"reason": "fraud review"})
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	before := e.state(t)
	res = e.Do(http.MethodPost, "/v1/live-requests", p.Token, validRequest())
	require.Equal(t, http.StatusForbidden, res.Status, string(res.Body))
	assert.Equal(t, liverequest.CodePartnerSuspended, res.JSON(t)["code"])
	assert.Equal(t, before, e.state(t))
}
