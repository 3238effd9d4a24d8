package ingest

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/requestlog"
)

func TestInsertSQLNamesEveryColumn(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "INSERT INTO `steller`.request_logs (ts, timestamp_ms, request_id, client_request_id, partner_id, workspace_id, key_id,"+
		" environment, method, path, route, status, latency_total_us, latency_upstream_us, latency_edge_us, client_ip,"+
		" user_agent, request_bytes, response_bytes, decision, denial_code, idempotency_key_hash, schema_version, ingested_at)", insertSQL("steller", "request_logs", requestColumns))
	assert.True(t, strings.HasPrefix(insertSQL("a`b", "request_logs", requestColumns), "INSERT INTO `a\\`b`.request_logs ("))
}

func TestDecode(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ms := now.UnixMilli()
	valid := `"schema_version":1,"request_id":"req_1","timestamp_ms":` + itoa(ms) + `,"status":200`
	cases := []struct {
		name   string
		value  string
		reason string
	}{
		{"valid", `{` + valid + `}`, ""},
		{"unknown fields are ignored", `{` + valid + `,"added_in_v1_1":"x"}`, ""},
		{"not json", `{"request_id":`, ReasonInvalidJSON},
		{"wrong type", `{"schema_version":"1"}`, ReasonInvalidJSON},
		{"array", `[1,2]`, ReasonInvalidJSON},
		{"no version", `{"request_id":"req_1","timestamp_ms":` + itoa(ms) + `}`, ReasonUnsupportedVersion},
		{"future version", `{"schema_version":2,"request_id":"req_1","timestamp_ms":` + itoa(ms) + `}`, ReasonUnsupportedVersion},
		{"no request id", `{"schema_version":1,"timestamp_ms":` + itoa(ms) + `,"status":200}`, ReasonMissingRequestID},
		{"no timestamp", `{"schema_version":1,"request_id":"req_1","status":200}`, ReasonTimestampOutOfRange},
		{"too old", `{"schema_version":1,"request_id":"req_1","status":200,"timestamp_ms":` + itoa(ms-25*3600*1000) + `}`, ReasonTimestampOutOfRange},
		{"too far ahead", `{"schema_version":1,"request_id":"req_1","status":200,"timestamp_ms":` + itoa(ms+61*1000) + `}`, ReasonTimestampOutOfRange},
		{"status zero", `{"schema_version":1,"request_id":"req_1","timestamp_ms":` + itoa(ms) + `}`, ReasonInvalidField},
		{"negative latency", `{` + valid + `,"latency_total_us":-1}`, ReasonInvalidField},
		{"negative bytes", `{` + valid + `,"response_bytes":-5}`, ReasonInvalidField},
		{"null is no value", `{` + valid + `,"route":null,"latency_total_us":null}`, ""},
		{"string number", `{` + valid + `,"status":"200"}`, ReasonInvalidJSON},
		{"number string", `{` + valid + `,"route":5}`, ReasonInvalidJSON},
		{"fraction", `{` + valid + `,"latency_total_us":1.5}`, ReasonInvalidJSON},
		{"trailing garbage", `{` + valid + `} x`, ReasonInvalidJSON},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := validator{now: func() time.Time { return now }, maxAge: 24 * time.Hour, maxAhead: time.Minute}
			e, why := v.decode([]byte(tc.value))
			if tc.reason == "" {
				require.Nil(t, why)
				assert.Equal(t, "req_1", e.RequestID)
				return
			}
			require.NotNil(t, why)
			assert.Equal(t, tc.reason, why.reason)
			assert.NotEmpty(t, why.detail)
		})
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// client_request_id is optional data: kept when valid, dropped (never the event) when not.
func TestDecodeClientRequestID(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	v := validator{now: func() time.Time { return now }, maxAge: 24 * time.Hour, maxAhead: time.Minute}
	for value, want := range map[string]string{
		``:                                   "",
		`,"client_request_id":null`:          "",
		`,"client_request_id":"cli-1:a.b_c"`: "cli-1:a.b_c",
		`,"client_request_id":"has space"`:   "",
		`,"client_request_id":"` + strings.Repeat("x", 128) + `"`: strings.Repeat("x", 128),
		`,"client_request_id":"` + strings.Repeat("x", 129) + `"`: "",
	} {
		e, why := v.decode([]byte(`{"schema_version":1,"request_id":"req_1","timestamp_ms":` + itoa(now.UnixMilli()) + `,"status":200` + value + `}`))
		require.Nil(t, why, value)
		assert.Equal(t, "req_1", e.RequestID, value)
		assert.Equal(t, want, e.ClientRequestID, value)
	}
}

// idempotency_key_hash is optional data like client_request_id: kept in the edge's form
// (16 lower-case hex digits), dropped (never the event) otherwise.
func TestDecodeIdempotencyKeyHash(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	v := validator{now: func() time.Time { return now }, maxAge: 24 * time.Hour, maxAhead: time.Minute}
	for value, want := range map[string]string{
		``:                             "",
		`,"idempotency_key_hash":null`: "",
		`,"idempotency_key_hash":"0123456789abcdef"`: "0123456789abcdef",
		`,"idempotency_key_hash":"0123456789ABCDEF"`: "",
		`,"idempotency_key_hash":"0123456789abcde"`:  "",
		`,"idempotency_key_hash":"order-42"`:         "",
	} {
		e, why := v.decode([]byte(`{"schema_version":1,"request_id":"req_1","timestamp_ms":` + itoa(now.UnixMilli()) + `,"status":200` + value + `}`))
		require.Nil(t, why, value)
		assert.Equal(t, want, e.IdempotencyKeyHash, value)
	}
}

func TestBatchTracksRowsAndHighestOffsets(t *testing.T) {
	t.Parallel()
	rows := &requestRows{}
	b := newBatch(rows)
	e := requestlog.Event{SchemaVersion: 1, RequestID: "r", TimestampMs: 1_764_072_000_999, Status: 201, LatencyTotalUs: 7}
	for _, m := range []kafka.Message{{Partition: 0, Offset: 5}, {Partition: 1, Offset: 9}, {Partition: 0, Offset: 6}} {
		b.track(m)
		rows.add(&e)
	}
	b.track(kafka.Message{Partition: 2, Offset: 1})
	b.dead = append(b.dead, deadLetter{msg: kafka.Message{Partition: 2, Offset: 1}})
	assert.Equal(t, 4, b.messages)
	assert.Equal(t, 3, b.rows())
	assert.Equal(t, map[int]int64{0: 6, 1: 9, 2: 1}, b.offsets)
	assert.ElementsMatch(t, []kafka.Message{{Topic: "t", Partition: 0, Offset: 6}, {Topic: "t", Partition: 1, Offset: 9}, {Topic: "t", Partition: 2, Offset: 1}}, b.commits("t"))
	assert.Equal(t, time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC), rows.ts[0], "ts is the event second")
	assert.Equal(t, uint64(1_764_072_000_999), rows.timestampMs[0])

	b.reset()
	assert.Zero(t, b.messages)
	assert.Zero(t, b.rows())
	assert.Empty(t, b.offsets)
	assert.Empty(t, b.dead)
}

func TestBatchDecodeSplitsRowsFromDeadLetters(t *testing.T) {
	t.Parallel()
	now := time.Now()
	v := validator{now: func() time.Time { return now }, maxAge: time.Hour, maxAhead: time.Hour}
	good := `{"schema_version":1,"request_id":"r1","timestamp_ms":` + itoa(now.UnixMilli()) + `,"status":200,"route":"a"}`
	rows := &requestRows{}
	b := newBatch(rows)
	for i, value := range []string{good, `nope`, strings.Replace(good, `"r1"`, `"r2"`, 1)} {
		b.track(kafka.Message{Partition: 0, Offset: int64(i), Value: []byte(value)})
	}
	b.decode(&v)
	assert.Equal(t, []string{"r1", "r2"}, rows.requestID)
	assert.Equal(t, []string{"a", "a"}, rows.route)
	require.Len(t, b.dead, 1)
	assert.Equal(t, int64(1), b.dead[0].msg.Offset)
	assert.Equal(t, ReasonInvalidJSON, b.dead[0].why.reason)
	assert.Equal(t, 3, b.messages)

	b.reset()
	assert.Empty(t, b.msgs)
	assert.Empty(t, b.dead)
	assert.Zero(t, b.rows())
}

// The fast parser must agree with encoding/json on everything json.Marshal writes.
func TestParseAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	v := validator{now: time.Now}
	for i, e := range []requestlog.Event{
		{},
		{SchemaVersion: 1, RequestID: "req_\"q\"\\", ClientRequestID: "cli:1.a_b-c", TimestampMs: 1_764_090_000_123, PartnerID: "ptr_ünï", WorkspaceID: "ws\n1",
			KeyID: "key_1", Environment: "live", Method: "DELETE", Path: "/v1/orders/<a&b>", Route: "orders.get", Status: 404,
			LatencyTotalUs: 9_000_000_000, LatencyUpstreamUs: 1, LatencyEdgeUs: 2, ClientIP: "2001:db8::1",
			UserAgent: "Mozilla/5.0 \u2028 \t 🚀", RequestBytes: 1 << 40, ResponseBytes: 3, Decision: "deny", DenialCode: "ip_not_allowed",
			IdempotencyKeyHash: "0123456789abcdef"},
		{SchemaVersion: -3, Status: -1, LatencyTotalUs: -9_223_372_036_854_775_808},
	} {
		raw, err := json.Marshal(e)
		require.NoError(t, err)
		var want requestlog.Event
		require.NoError(t, json.Unmarshal(raw, &want))
		got, err := v.parse(raw)
		require.NoError(t, err, "case %d", i)
		assert.Equal(t, want, got, "case %d", i)
	}
}

// BenchmarkDecode compares the ingest's decoder with encoding/json (the baseline) on the
// same event.
func BenchmarkDecode(b *testing.B) {
	raw, err := json.Marshal(requestlog.Event{
		SchemaVersion: 1, RequestID: "req_01JDQ6Z8J3V7", TimestampMs: time.Now().UnixMilli(), PartnerID: "ptr_01JDQ6Z8J3",
		WorkspaceID: "ws_01JDQ6Z8J3", KeyID: "key_01JDQ6Z8J3", Environment: "live", Method: "POST", Path: "/v1/orders",
		Route: "orders.create", Status: 201, LatencyTotalUs: 48_211, LatencyUpstreamUs: 47_902, LatencyEdgeUs: 309,
		ClientIP: "203.0.113.9", UserAgent: "steller-go/1.4.2", RequestBytes: 212, ResponseBytes: 498, Decision: "allow",
	})
	require.NoError(b, err)
	b.Run("baseline=encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e requestlog.Event
			if err := json.Unmarshal(raw, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ingest_decoder", func(b *testing.B) {
		v := validator{now: time.Now, maxAge: time.Hour, maxAhead: time.Hour}
		b.ReportAllocs()
		for b.Loop() {
			if _, why := v.decode(raw); why != nil {
				b.Fatal(why.detail)
			}
		}
	})
}
