package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/explorer"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/gateway-plugin/edge/edgetest"
	"github.com/steller/platform/internal/testenv"
)

// noDeliveries is a webhook lookup with no deliveries: this test is about request logs.
type noDeliveries struct{}

func (noDeliveries) DeliveriesForRequest(context.Context, auth.Principal, string) ([]webhook.Delivery, error) {
	return nil, nil
}

// Issue 10: N requests that all send one X-Request-Id, through the built-in gateway over
// real HTTP, Kafka, the ingest and ClickHouse, read back through the log explorer's API:
// N rows (each under its own edge request id, each showing the client's id) and N
// requests in usage. Before, the edge took the client's id as the request id, and the
// explorer showed one row and usage counted one request.
func TestManyRequestsWithOneClientRequestIDStayManyInTheExplorerAndUsage(t *testing.T) {
	t.Parallel()
	k := testenv.NewKafka(t)
	p := startPipeline(t, k.Brokers, k.Topic(t, "request-logs", 3))
	const n, clientID = 20, "retry-order-42"

	start := time.Now().UTC()
	edgeIDs := map[string]bool{}
	for i := range n {
		req, err := http.NewRequest(http.MethodGet, p.gateway+"/v1/catalog", nil)
		require.NoError(t, err)
		req.Header.Set("X-Request-Id", clientID)
		if i%4 != 0 { // a quarter denied (missing_key): denials are counted the same way
			req.Header.Set("Authorization", "Bearer "+p.fx.Secret(edgetest.KeyTestFull))
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		id := resp.Header.Get("X-Request-Id")
		assert.Regexp(t, `^req_[0-9a-f]{32}$`, id, "the edge's own id, not the client's")
		edgeIDs[id] = true
	}
	require.Len(t, edgeIDs, n, "every request has its own id")

	store, err := logquery.New(p.ch.Conn, p.ch.Database)
	require.NoError(t, err)
	_, api := humatest.New(t)
	api.UseMiddleware(partnertest.Middleware)
	explorer.Register(api, explorer.Deps{Store: store, Deliveries: noDeliveries{}, RBAC: partnertest.Checker{}})
	// Denied requests without a key have no partner; the allowed ones are the partner's.
	owner := partnertest.Header(auth.Principal{Kind: auth.KindUser, ID: "usr_owner", PartnerID: edgetest.PartnerActive,
		WorkspaceID: edgetest.WorkspaceID, Role: auth.RoleOwner})
	allowed := n - (n+3)/4

	var list explorer.LogList
	logs := "/v1/logs?" + url.Values{"client_request_id": {clientID}, "limit": {"200"}}.Encode()
	require.Eventually(t, func() bool {
		resp := api.Get(logs, owner)
		require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
		list = explorer.LogList{}
		require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &list))
		return len(list.Logs) >= allowed
	}, 60*time.Second, 100*time.Millisecond, "the partner's requests did not reach the explorer")
	require.Len(t, list.Logs, allowed, "one row per request")
	seen := map[string]bool{}
	for _, r := range list.Logs {
		assert.True(t, edgeIDs[r.RequestID], "row %s is not one of the requests sent", r.RequestID)
		assert.Equal(t, clientID, r.ClientRequestID)
		seen[r.RequestID] = true
	}
	assert.Len(t, seen, allowed, "no request id twice")

	resp := api.Get("/v1/logs/"+list.Logs[0].RequestID, owner)
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	var detail explorer.RequestDetail
	require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &detail))
	assert.Equal(t, clientID, detail.Request.ClientRequestID)

	usage := "/v1/usage?" + url.Values{"from": {start.Add(-time.Minute).Format(time.RFC3339)},
		"to": {time.Now().UTC().Add(time.Minute).Format(time.RFC3339)}, "interval": {"minute"}}.Encode()
	// The rollup is written with the rows but may trail the explorer by an ingest retry
	// (a batch whose push into the rollup view failed is stored again): wait for it, and
	// never accept more than were sent.
	var counted uint64
	require.Eventually(t, func() bool {
		resp := api.Get(usage, owner)
		require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
		var u logquery.Usage
		require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &u))
		if len(u.Environments) == 0 {
			return false
		}
		require.Len(t, u.Environments, 1)
		counted = u.Environments[0].Requests
		require.LessOrEqual(t, counted, uint64(allowed), "usage never counts a request twice")
		return counted == uint64(allowed)
	}, 60*time.Second, 100*time.Millisecond, "usage did not count every request")
	assert.Equal(t, uint64(allowed), counted, "usage counts every request")

	// All n, denials included, are stored once each (the denials have no partner, so no
	// partner's explorer shows them).
	// They travel in another partition (key: empty partner id), so they may land later.
	require.Eventually(t, func() bool {
		var rows, distinct uint64
		require.NoError(t, p.ch.Conn.QueryRow(context.Background(), "SELECT count(), uniqExact(request_id) FROM "+p.ch.Database+
			".request_logs FINAL WHERE client_request_id = ?", clientID).Scan(&rows, &distinct))
		require.LessOrEqual(t, rows, uint64(n))
		return rows == n && distinct == n
	}, 60*time.Second, 100*time.Millisecond, "not every request was stored once")
}
