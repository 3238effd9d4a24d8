package logquery_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/testenv"
)

// suite is one test's ClickHouse database with the migrations applied, and a Store on it.
type suite struct {
	ch    testenv.ClickHouse
	store *logquery.Store
}

func setup(t testing.TB) suite {
	t.Helper()
	ch := testenv.NewClickHouse(t)
	require.NoError(t, schema.Migrate(context.Background(), ch.Conn, ch.Database))
	store, err := logquery.New(ch.Conn, ch.Database)
	require.NoError(t, err)
	return suite{ch: ch, store: store}
}

// event is one request_logs row as a test writes it; zero fields get plain defaults.
type event struct {
	id        string
	partner   string
	at        time.Time
	env       string
	method    string
	path      string
	route     string
	key       string
	status    uint16
	denial    string
	latencyUs uint64
	client    string // the client's X-Request-Id (client_request_id)
}

func (e event) row() logquery.Row {
	decision := "allow"
	if e.denial != "" {
		decision = "deny"
	}
	method, path, route := e.method, e.path, e.route
	if method == "" {
		method = "GET"
	}
	if path == "" {
		path = "/v1/catalog"
	}
	if route == "" {
		route = "catalog.list"
	}
	status := e.status
	if status == 0 {
		status = 200
	}
	envName := e.env
	if envName == "" {
		envName = "test"
	}
	return logquery.Row{
		Timestamp: e.at.UTC(), RequestID: e.id, ClientRequestID: e.client, PartnerID: e.partner, WorkspaceID: "ws_" + e.partner, KeyID: e.key,
		Environment: envName, Method: method, Path: path, Route: route, Status: status,
		LatencyTotalUs: e.latencyUs, LatencyUpstreamUs: e.latencyUs / 2, LatencyEdgeUs: e.latencyUs / 4,
		ClientIP: "203.0.113.7", UserAgent: "logquery-test", RequestBytes: 10, ResponseBytes: 100,
		Decision: decision, DenialCode: e.denial, SchemaVersion: 1,
	}
}

// insert writes events in one column-named batch, as the ingest does; calling it twice
// with the same events is a Kafka redelivery.
func (s suite) insert(t testing.TB, events ...event) {
	t.Helper()
	rows := make([]logquery.Row, len(events))
	for i, ev := range events {
		rows[i] = ev.row()
	}
	insertRows(t, s.ch, rows)
}

// insertRows writes rows in one column-named batch. Rows without a client request id are
// written without that column, as an ingest from before migration 0004 wrote them (so the
// tests of older migrations can insert before 0004 exists).
func insertRows(t testing.TB, ch testenv.ClickHouse, rows []logquery.Row) {
	t.Helper()
	ctx := context.Background()
	withClient := slices.ContainsFunc(rows, func(r logquery.Row) bool { return r.ClientRequestID != "" })
	client := ""
	if withClient {
		client = " client_request_id,"
	}
	batch, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO "+warehouse.QuoteIdentifier(ch.Database)+".request_logs"+
		" (ts, timestamp_ms, request_id,"+client+" partner_id, workspace_id, key_id, environment, method, path, route, status,"+
		" latency_total_us, latency_upstream_us, latency_edge_us, client_ip, user_agent, request_bytes, response_bytes,"+
		" decision, denial_code, schema_version, ingested_at)")
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Second)
	for _, r := range rows {
		vals := []any{r.Timestamp.Truncate(time.Second), uint64(r.Timestamp.UnixMilli()), r.RequestID}
		if withClient {
			vals = append(vals, r.ClientRequestID)
		}
		vals = append(vals, r.PartnerID, r.WorkspaceID, r.KeyID, r.Environment, r.Method, r.Path, r.Route, r.Status,
			r.LatencyTotalUs, r.LatencyUpstreamUs, r.LatencyEdgeUs, r.ClientIP, r.UserAgent, r.RequestBytes, r.ResponseBytes,
			r.Decision, r.DenialCode, r.SchemaVersion, now)
		require.NoError(t, batch.Append(vals...))
	}
	require.NoError(t, batch.Send())
}

// ids returns the request ids of rows, in order.
func ids(rows []logquery.Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.RequestID
	}
	return out
}
