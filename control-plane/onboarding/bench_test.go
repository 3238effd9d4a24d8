package onboarding_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/schema/schematest"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/onboarding"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/internal/latency"
	"github.com/steller/platform/internal/testenv"
)

// Benchmark data (issue 12, part 7): 10,000 partners with one to ten milestones each in
// PostgreSQL, and 10,000,000 request-log rows over 90 days in ClickHouse (1,000 per
// partner, about 11 in the stuck hint's last 24 hours).
const (
	benchPartners = 10_000
	benchRows     = 10_000_000
	benchChunk    = 250_000 // one INSERT ... SELECT each, well inside the 30 s read timeout on a busy machine
	benchQueries  = 500
)

// BenchmarkOnboarding measures GET /v1/onboarding through the API handler for benchQueries
// partners, beside two baselines in the same run: the same request for a Finance member
// (no stuck hint, so PostgreSQL only), and the floor of one round trip to each server
// (SELECT 1). Run with -benchtime=1x: each sub-benchmark makes its own measurements.
//
//	go test -run '^$' -bench Onboarding -benchtime 1x -timeout 30m ./control-plane/onboarding/
func BenchmarkOnboarding(b *testing.B) {
	ctx := context.Background()
	pool := partnertest.DB(b)
	ch := testenv.NewClickHouse(b)
	require.NoError(b, schema.Migrate(ctx, ch.Conn, ch.Database))
	now := time.Now().UTC().Truncate(time.Hour)
	start := now.AddDate(0, 0, -90)

	b.Run("seed", func(b *testing.B) {
		began := time.Now()
		_, err := pool.Exec(ctx, `INSERT INTO partners (id, company, created_at)
SELECT 'ptr_' || g, 'Bench ' || g, $1::timestamptz + g * interval '7 minutes' FROM generate_series(0, $2 - 1) g`, start, benchPartners)
		require.NoError(b, err)
		_, err = pool.Exec(ctx, `INSERT INTO onboarding_milestones (partner_id, milestone, reached_at, event_id, source)
SELECT 'ptr_' || g, m.name, $1::timestamptz + g * interval '7 minutes' + (m.i - 1) * interval '1 hour', 'evt_' || g || '_' || m.i, 'backfill'
FROM generate_series(0, $2 - 1) g,
	unnest(ARRAY['signed_up', 'first_key', 'first_sandbox_call', 'first_sandbox_order', 'first_webhook_delivered',
		'live_requested', 'live_approved', 'first_live_key', 'first_live_call', 'first_live_order']) WITH ORDINALITY m(name, i)
WHERE m.i <= 1 + g % 10`, start, benchPartners)
		require.NoError(b, err)
		seed := schematest.Seed{Rows: benchRows, Partners: benchPartners, Start: start, Span: 90 * 24 * time.Hour}
		for off := 0; off < benchRows; off += benchChunk {
			require.NoError(b, ch.Conn.Exec(ctx, seed.RequestLogsSQL(ch.Database, off, benchChunk)))
		}
		b.ReportMetric(time.Since(began).Seconds(), "seed_s")
	})

	store, err := logquery.New(ch.Conn, ch.Database)
	require.NoError(b, err)
	svc, err := onboarding.New(onboarding.Config{Milestones: pool, Activity: store, Now: func() time.Time { return now }})
	require.NoError(b, err)
	_, api := humatest.New(quietTB{b})
	api.UseMiddleware(partnertest.Middleware)
	onboarding.Register(api, onboarding.Deps{Service: svc, RBAC: partnertest.Checker{}})

	get := func(role string) func(i int) error {
		return func(i int) error {
			id := fmt.Sprintf("ptr_%d", (i*7919)%benchPartners)
			p := auth.Principal{Kind: auth.KindUser, ID: "usr_" + id, PartnerID: id, WorkspaceID: "ws_" + id, Role: role}
			resp := api.Get("/v1/onboarding", partnertest.Header(p))
			if resp.Code != http.StatusOK {
				return fmt.Errorf("%s: %d %s", id, resp.Code, resp.Body.String())
			}
			return nil
		}
	}
	var floor, financeTimes latency.Samples
	b.Run("floor_select_1_on_both_baseline", func(b *testing.B) {
		floor = latency.Measure(b, 10, benchQueries, func(int) error {
			var one int
			if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
				return err
			}
			return ch.Conn.Exec(ctx, "SELECT 1")
		})
		latency.Report(b, floor, nil)
	})
	b.Run("onboarding_finance_postgres_only_baseline", func(b *testing.B) {
		financeTimes = latency.Measure(b, 10, benchQueries, get(auth.RoleFinance))
		latency.Report(b, financeTimes, floor)
	})
	b.Run("onboarding_owner_with_stuck_hint", func(b *testing.B) {
		owner := latency.Measure(b, 10, benchQueries, get(auth.RoleOwner))
		latency.Report(b, owner, floor)
		b.ReportMetric(owner.Ms(95)/financeTimes.Ms(95), "p95_x_finance")
	})
}

// quietTB drops humatest's log of every request.
type quietTB struct{ testing.TB }

func (quietTB) Log(...any)          {}
func (quietTB) Logf(string, ...any) {}
