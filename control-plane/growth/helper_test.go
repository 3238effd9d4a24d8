package growth_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/growthquery"
	"github.com/steller/platform/analytics/growthquery/growthtest"
	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/control-plane/api/apitest"
	"github.com/steller/platform/control-plane/growth"
	"github.com/steller/platform/internal/testenv"
)

// rawPartner, rawMilestone: the rows seeded into PostgreSQL.
type rawPartner struct {
	id      string
	created time.Time
	code    string // "" is no referral code
}

type rawMilestone struct {
	partnerID, milestone string
	at                   time.Time
}

// world is what a test seeded: the raw rows the figures are computed from.
type world struct {
	partners   []rawPartner
	milestones []rawMilestone
	requests   []growthtest.Request
	events     []orderevent.Event // duplicates included, as stored
}

// env is an API with the growth operation on its own PostgreSQL and ClickHouse databases.
type env struct {
	*apitest.Env
	ch     growthtest.Engines
	chAddr string
	admin  string
}

func setup(t testing.TB) *env {
	t.Helper()
	e := apitest.New(t)
	ch := testenv.NewClickHouse(t)
	require.NoError(t, schema.Migrate(context.Background(), ch.Conn, ch.Database))
	wh, err := growthquery.New(ch.Conn, ch.Database)
	require.NoError(t, err)
	svc, err := growth.New(growth.Config{Pool: e.Pool, Warehouse: wh, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	growth.Register(e.API.Huma(), growth.Deps{Growth: svc, RBAC: e.API.Checker()})
	return &env{Env: e, ch: growthtest.Engines{Conn: ch.Conn, Database: ch.Database}, chAddr: ch.Addr, admin: e.AdminSession()}
}

// get sends GET path with the admin's session (or token, when given) and an Accept header.
func (e *env) get(path, accept string, token ...string) *httptest.ResponseRecorder {
	e.T.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	tok := e.admin
	if len(token) > 0 {
		tok = token[0]
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	e.API.Handler().ServeHTTP(rec, req)
	return rec
}

var milestoneOrder = []string{
	"signed_up", "first_key", "first_sandbox_call", "first_sandbox_order", "first_webhook_delivered",
	"live_requested", "live_approved", "first_live_key", "first_live_call", "first_live_order",
}

// seed stores a world of partners from 2025-12-20 to 2026-03-25: sources REF-A, REF-B,
// =HACK (a spreadsheet formula) and none; each reaches a random prefix of the milestones
// (sometimes skipping first_webhook_delivered, sometimes reaching one only after the
// report's end), makes requests of every class on random days, and places sandbox and
// live orders in two currencies. A third of the orders' events and a part of the
// requests are stored twice; a partner PostgreSQL does not know has requests and orders.
func (e *env) seed(t *testing.T, n int) world {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(12, 34))
	var w world
	start := time.Date(2025, 12, 20, 0, 0, 0, 0, time.UTC)
	codes := []string{"REF-A", "REF-B", "=HACK", ""}
	for i := range n {
		p := rawPartner{id: fmt.Sprintf("ptr_g%03d", i), code: codes[rng.IntN(len(codes))],
			created: start.Add(time.Duration(rng.Int64N(int64(95 * 24 * time.Hour)))).Truncate(time.Second)}
		w.partners = append(w.partners, p)
		_, err := e.Pool.Exec(ctx, `INSERT INTO partners (id, company, signup_referral_code, created_at) VALUES ($1, $2, NULLIF($3, ''), $4)`,
			p.id, "Growth "+p.id, p.code, p.created)
		require.NoError(t, err)
		at := p.created
		steps := rng.IntN(len(milestoneOrder) + 1)
		for _, m := range milestoneOrder[:steps] {
			at = at.Add(time.Duration(rng.Int64N(int64(9 * 24 * time.Hour)))).Truncate(time.Second)
			if m == "first_webhook_delivered" && rng.IntN(3) == 0 {
				continue // skipped: live without webhooks
			}
			w.milestones = append(w.milestones, rawMilestone{p.id, m, at})
		}
		for d := range 100 {
			if rng.IntN(4) != 0 {
				continue
			}
			day := p.created.Add(time.Duration(d) * 24 * time.Hour).Add(time.Duration(rng.IntN(3600)) * time.Second)
			status := []uint16{200, 201, 404, 429, 500, 302}[rng.IntN(6)]
			w.requests = append(w.requests, growthtest.Request{RequestID: fmt.Sprintf("req_%s_%03d", p.id, d), PartnerID: p.id, At: day, Status: status})
		}
		for o := range rng.IntN(6) {
			created := p.created.Add(time.Duration(rng.Int64N(int64(60 * 24 * time.Hour)))).Truncate(time.Millisecond)
			w.events = append(w.events, orderEvents(fmt.Sprintf("ord_%s_%d", p.id, o), p.id, created, rng)...)
		}
	}
	w.requests = append(w.requests, growthtest.Request{RequestID: "req_stranger", PartnerID: "ptr_stranger", At: start.AddDate(0, 1, 0), Status: 200})
	w.events = append(w.events, orderEvents("ord_stranger", "ptr_stranger", start.AddDate(0, 1, 0), rng)...)
	for _, m := range w.milestones {
		// signed_up is stored too (signup writes it) but the figures read partners.created_at.
		_, err := e.Pool.Exec(ctx, `INSERT INTO onboarding_milestones (partner_id, milestone, reached_at) VALUES ($1, $2, $3)`, m.partnerID, m.milestone, m.at)
		require.NoError(t, err)
	}
	e.ch.InsertRequests(t, w.requests)
	e.ch.InsertRequests(t, w.requests[:len(w.requests)/3])
	e.ch.InsertOrders(t, w.events)
	var again []orderevent.Event
	for i, ev := range w.events {
		if i%3 == 0 {
			again = append(again, ev)
		}
	}
	e.ch.InsertOrders(t, again)
	w.events = append(w.events, again...)
	return w
}

func orderEvents(orderID, partnerID string, created time.Time, rng *rand.Rand) []orderevent.Event {
	base := orderevent.Event{
		SchemaVersion: orderevent.SchemaVersion, OrderID: orderID, PartnerID: partnerID, WorkspaceID: "ws_" + partnerID,
		Environment: []string{"test", "live"}[rng.IntN(2)], ProductID: "steam-50", AmountCents: 100 + rng.Int64N(900_000_000_000),
		Currency: []string{"USD", "EUR"}[rng.IntN(2)], OrderCreatedAtMs: created.UnixMilli(), RequestID: "req_" + orderID,
	}
	c := base
	c.Type, c.EventID, c.OccurredAtMs = orderevent.TypeCreated, orderevent.ID(orderID, orderevent.TypeCreated), created.UnixMilli()
	final := base
	final.OccurredAtMs = created.Add(time.Duration(rng.IntN(40)) * time.Hour).UnixMilli()
	if rng.IntN(4) == 0 {
		final.Type, final.FailureReason = orderevent.TypeFailed, orderevent.ReasonOutOfStock
	} else {
		final.Type = orderevent.TypeCompleted
	}
	final.EventID = orderevent.ID(orderID, final.Type)
	return []orderevent.Event{c, final}
}

func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, "a number: %q", s)
	return f
}
