package ingest

import (
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/steller/platform/analytics/requestlog"
)

// requestColumns are request_logs' columns in the order requestRows appends them.
var requestColumns = []string{
	"ts", "timestamp_ms", "request_id", "client_request_id", "partner_id", "workspace_id", "key_id", "environment",
	"method", "path", "route", "status", "latency_total_us", "latency_upstream_us",
	"latency_edge_us", "client_ip", "user_agent", "request_bytes", "response_bytes",
	"decision", "denial_code", "idempotency_key_hash", "schema_version", "ingested_at",
}

// requestRows are a batch's request_logs rows, column by column.
type requestRows struct {
	ts                                                 []time.Time
	timestampMs                                        []uint64
	requestID, clientRequestID                         []string
	partnerID, workspaceID, keyID, environment, method []string
	path, route                                        []string
	status                                             []uint16
	latencyTotal, latencyUpstream, latencyEdge         []uint64
	clientIP, userAgent                                []string
	requestBytes, responseBytes                        []uint64
	decision, denialCode, idempotencyKeyHash           []string
	schemaVersion                                      []uint8
	ingestedAt                                         []time.Time
}

func (r *requestRows) len() int { return len(r.requestID) }

func (r *requestRows) reset() {
	r.ts, r.timestampMs = r.ts[:0], r.timestampMs[:0]
	r.requestID, r.clientRequestID = r.requestID[:0], r.clientRequestID[:0]
	r.partnerID, r.workspaceID, r.keyID = r.partnerID[:0], r.workspaceID[:0], r.keyID[:0]
	r.environment, r.method, r.path, r.route = r.environment[:0], r.method[:0], r.path[:0], r.route[:0]
	r.status = r.status[:0]
	r.latencyTotal, r.latencyUpstream, r.latencyEdge = r.latencyTotal[:0], r.latencyUpstream[:0], r.latencyEdge[:0]
	r.clientIP, r.userAgent = r.clientIP[:0], r.userAgent[:0]
	r.requestBytes, r.responseBytes = r.requestBytes[:0], r.responseBytes[:0]
	r.decision, r.denialCode, r.idempotencyKeyHash = r.decision[:0], r.denialCode[:0], r.idempotencyKeyHash[:0]
	r.schemaVersion, r.ingestedAt = r.schemaVersion[:0], r.ingestedAt[:0]
}

// add appends one decoded event as a row.
func (r *requestRows) add(e *requestlog.Event) {
	r.ts = append(r.ts, time.UnixMilli(e.TimestampMs).Truncate(time.Second).UTC())
	r.timestampMs = append(r.timestampMs, uint64(e.TimestampMs))
	r.requestID = append(r.requestID, e.RequestID)
	r.clientRequestID = append(r.clientRequestID, e.ClientRequestID)
	r.partnerID = append(r.partnerID, e.PartnerID)
	r.workspaceID = append(r.workspaceID, e.WorkspaceID)
	r.keyID = append(r.keyID, e.KeyID)
	r.environment = append(r.environment, e.Environment)
	r.method = append(r.method, e.Method)
	r.path = append(r.path, e.Path)
	r.route = append(r.route, e.Route)
	r.status = append(r.status, uint16(e.Status))
	r.latencyTotal = append(r.latencyTotal, uint64(e.LatencyTotalUs))
	r.latencyUpstream = append(r.latencyUpstream, uint64(e.LatencyUpstreamUs))
	r.latencyEdge = append(r.latencyEdge, uint64(e.LatencyEdgeUs))
	r.clientIP = append(r.clientIP, e.ClientIP)
	r.userAgent = append(r.userAgent, e.UserAgent)
	r.requestBytes = append(r.requestBytes, uint64(e.RequestBytes))
	r.responseBytes = append(r.responseBytes, uint64(e.ResponseBytes))
	r.decision = append(r.decision, e.Decision)
	r.denialCode = append(r.denialCode, e.DenialCode)
	r.idempotencyKeyHash = append(r.idempotencyKeyHash, e.IdempotencyKeyHash)
	r.schemaVersion = append(r.schemaVersion, uint8(e.SchemaVersion))
}

func (r *requestRows) appendTo(cb driver.Batch, ingestedAt time.Time) error {
	r.ingestedAt = stamp(r.ingestedAt, r.len(), ingestedAt)
	return appendColumns(cb, requestColumns, []any{
		r.ts, r.timestampMs, r.requestID, r.clientRequestID, r.partnerID, r.workspaceID, r.keyID, r.environment,
		r.method, r.path, r.route, r.status, r.latencyTotal, r.latencyUpstream,
		r.latencyEdge, r.clientIP, r.userAgent, r.requestBytes, r.responseBytes,
		r.decision, r.denialCode, r.idempotencyKeyHash, r.schemaVersion, r.ingestedAt,
	})
}

// decodeInto is the request-log stream's decoder (see decode).
func (v *validator) decodeInto(value []byte, rows rowSet) *rejection {
	e, why := v.decode(value)
	if why != nil {
		return why
	}
	rows.(*requestRows).add(&e)
	return nil
}

// stamp returns col (reused) holding n copies of at.
func stamp(col []time.Time, n int, at time.Time) []time.Time {
	col = col[:0]
	for range n {
		col = append(col, at)
	}
	return col
}

// appendColumns appends whole columns to cb in the order of names.
func appendColumns(cb driver.Batch, names []string, cols []any) error {
	for i, col := range cols {
		if err := cb.Column(i).Append(col); err != nil {
			return fmt.Errorf("column %s: %w", names[i], err)
		}
	}
	return nil
}
