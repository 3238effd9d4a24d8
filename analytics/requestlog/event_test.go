package requestlog_test

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/requestlog"
)

func TestEventJSONFieldNames(t *testing.T) {
	t.Parallel()
	e := requestlog.Event{
		SchemaVersion: requestlog.SchemaVersion, RequestID: "req_1", TimestampMs: 1764090000123,
		PartnerID: "ptr_1", WorkspaceID: "ws_1", KeyID: "key_1", Environment: "test",
		Method: "POST", Path: "/v1/orders", Route: "orders.create", Status: 201,
		LatencyTotalUs: 1500, LatencyUpstreamUs: 1400, LatencyEdgeUs: 100,
		ClientIP: "2001:db8::1", UserAgent: "curl/8", RequestBytes: 42, ResponseBytes: 99,
		Decision: requestlog.DecisionAllow,
	}
	raw, err := json.Marshal(e)
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(raw, &fields))
	want := []string{
		"schema_version", "request_id", "timestamp_ms", "partner_id", "workspace_id", "key_id",
		"environment", "method", "path", "route", "status", "latency_total_us",
		"latency_upstream_us", "latency_edge_us", "client_ip", "user_agent", "request_bytes",
		"response_bytes", "decision", "denial_code",
	}
	assert.Len(t, fields, len(want))
	for _, name := range want {
		assert.Contains(t, fields, name)
	}
	var back requestlog.Event
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, e, back)

	// client_request_id is optional: written only when the client sent a valid one, so an
	// event without it is byte for byte what a version 1 producer wrote before it existed.
	assert.NotContains(t, string(raw), "client_request_id")
	e.ClientRequestID = "cli-1"
	raw, err = json.Marshal(e)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"client_request_id":"cli-1"`)
	back = requestlog.Event{}
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, e, back)
	assert.Equal(t, 1, requestlog.SchemaVersion, "an added optional field keeps the version (analytics/README.md rule 1)")
}

func TestMemoryEmitter(t *testing.T) {
	t.Parallel()
	var m requestlog.Memory
	var emitter requestlog.Emitter = &m
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() { emitter.Emit(requestlog.Event{RequestID: string(rune('a' + i%26)), Status: i}) })
	}
	wg.Wait()
	assert.Equal(t, 50, m.Len())
	assert.Len(t, m.Events(), 50)
	e, ok := m.Find("a")
	require.True(t, ok)
	assert.Equal(t, "a", e.RequestID)
	_, ok = m.Find("zz")
	assert.False(t, ok)
	requestlog.Nop{}.Emit(e) // must not panic
}
