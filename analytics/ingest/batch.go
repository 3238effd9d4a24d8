package ingest

import (
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/warehouse"
)

// columnNames are request_logs' columns in the order batch appends them.
var columnNames = []string{
	"ts", "timestamp_ms", "request_id", "client_request_id", "partner_id", "workspace_id", "key_id", "environment",
	"method", "path", "route", "status", "latency_total_us", "latency_upstream_us",
	"latency_edge_us", "client_ip", "user_agent", "request_bytes", "response_bytes",
	"decision", "denial_code", "schema_version", "ingested_at",
}

// insertSQL is the column-named INSERT that PrepareBatch needs (a bare INSERT INTO t
// yields an empty block on 18.16).
func insertSQL(database string) string {
	return "INSERT INTO " + warehouse.QuoteIdentifier(database) + "." + schema.RequestLogsTable +
		" (" + strings.Join(columnNames, ", ") + ")"
}

// deadLetter is a message that could not be stored, with the reason.
type deadLetter struct {
	msg kafka.Message
	why rejection
}

// batch is a set of consecutive messages: rows for ClickHouse column by column (appending
// whole columns is far cheaper than a row at a time), the messages to dead-letter, and
// the highest offset per partition to commit once both are stored.
type batch struct {
	messages int
	offsets  map[int]int64
	// msgs are the fetched messages, decoded into rows and dead letters by decode.
	msgs []kafka.Message
	dead []deadLetter

	ts                                                 []time.Time
	timestampMs                                        []uint64
	requestID, clientRequestID                         []string
	partnerID, workspaceID, keyID, environment, method []string
	path, route                                        []string
	status                                             []uint16
	latencyTotal, latencyUpstream, latencyEdge         []uint64
	clientIP, userAgent                                []string
	requestBytes, responseBytes                        []uint64
	decision, denialCode                               []string
	schemaVersion                                      []uint8
	ingestedAt                                         []time.Time
}

func newBatch() *batch { return &batch{offsets: map[int]int64{}} }

// reset empties b for reuse, keeping its capacity.
func (b *batch) reset() {
	b.messages = 0
	clear(b.offsets)
	clear(b.msgs) // drop the references to the message buffers
	b.msgs = b.msgs[:0]
	clear(b.dead)
	b.dead = b.dead[:0]
	b.ts, b.timestampMs = b.ts[:0], b.timestampMs[:0]
	b.requestID, b.clientRequestID = b.requestID[:0], b.clientRequestID[:0]
	b.partnerID, b.workspaceID, b.keyID = b.partnerID[:0], b.workspaceID[:0], b.keyID[:0]
	b.environment, b.method, b.path, b.route = b.environment[:0], b.method[:0], b.path[:0], b.route[:0]
	b.status = b.status[:0]
	b.latencyTotal, b.latencyUpstream, b.latencyEdge = b.latencyTotal[:0], b.latencyUpstream[:0], b.latencyEdge[:0]
	b.clientIP, b.userAgent = b.clientIP[:0], b.userAgent[:0]
	b.requestBytes, b.responseBytes = b.requestBytes[:0], b.responseBytes[:0]
	b.decision, b.denialCode = b.decision[:0], b.denialCode[:0]
	b.schemaVersion, b.ingestedAt = b.schemaVersion[:0], b.ingestedAt[:0]
}

// rows is the number of rows for ClickHouse.
func (b *batch) rows() int { return len(b.requestID) }

// track adds msg to the batch and records its offset for the commit.
func (b *batch) track(msg kafka.Message) {
	b.messages++
	b.msgs = append(b.msgs, msg)
	if o, ok := b.offsets[msg.Partition]; !ok || msg.Offset > o {
		b.offsets[msg.Partition] = msg.Offset
	}
}

// decode turns the tracked messages into rows and dead letters. It runs in the store
// stage, so batches are decoded in parallel while the fetch loop keeps fetching.
func (b *batch) decode(v *validator) {
	for i := range b.msgs {
		if e, why := v.decode(b.msgs[i].Value); why != nil {
			b.dead = append(b.dead, deadLetter{msg: b.msgs[i], why: *why})
		} else {
			b.add(&e)
		}
	}
}

// add appends one decoded event as a row.
func (b *batch) add(e *requestlog.Event) {
	b.ts = append(b.ts, time.UnixMilli(e.TimestampMs).Truncate(time.Second).UTC())
	b.timestampMs = append(b.timestampMs, uint64(e.TimestampMs))
	b.requestID = append(b.requestID, e.RequestID)
	b.clientRequestID = append(b.clientRequestID, e.ClientRequestID)
	b.partnerID = append(b.partnerID, e.PartnerID)
	b.workspaceID = append(b.workspaceID, e.WorkspaceID)
	b.keyID = append(b.keyID, e.KeyID)
	b.environment = append(b.environment, e.Environment)
	b.method = append(b.method, e.Method)
	b.path = append(b.path, e.Path)
	b.route = append(b.route, e.Route)
	b.status = append(b.status, uint16(e.Status))
	b.latencyTotal = append(b.latencyTotal, uint64(e.LatencyTotalUs))
	b.latencyUpstream = append(b.latencyUpstream, uint64(e.LatencyUpstreamUs))
	b.latencyEdge = append(b.latencyEdge, uint64(e.LatencyEdgeUs))
	b.clientIP = append(b.clientIP, e.ClientIP)
	b.userAgent = append(b.userAgent, e.UserAgent)
	b.requestBytes = append(b.requestBytes, uint64(e.RequestBytes))
	b.responseBytes = append(b.responseBytes, uint64(e.ResponseBytes))
	b.decision = append(b.decision, e.Decision)
	b.denialCode = append(b.denialCode, e.DenialCode)
	b.schemaVersion = append(b.schemaVersion, uint8(e.SchemaVersion))
}

// appendTo fills a prepared ClickHouse batch, stamping every row with ingestedAt.
func (b *batch) appendTo(cb driver.Batch, ingestedAt time.Time) error {
	b.ingestedAt = b.ingestedAt[:0]
	for range b.rows() {
		b.ingestedAt = append(b.ingestedAt, ingestedAt)
	}
	cols := []any{
		b.ts, b.timestampMs, b.requestID, b.clientRequestID, b.partnerID, b.workspaceID, b.keyID, b.environment,
		b.method, b.path, b.route, b.status, b.latencyTotal, b.latencyUpstream,
		b.latencyEdge, b.clientIP, b.userAgent, b.requestBytes, b.responseBytes,
		b.decision, b.denialCode, b.schemaVersion, b.ingestedAt,
	}
	for i, col := range cols {
		if err := cb.Column(i).Append(col); err != nil {
			return fmt.Errorf("column %s: %w", columnNames[i], err)
		}
	}
	return nil
}

// commits returns one message per partition carrying the highest offset, which is what
// kafka-go's CommitMessages needs to commit offset+1.
func (b *batch) commits(topic string) []kafka.Message {
	out := make([]kafka.Message, 0, len(b.offsets))
	for p, o := range b.offsets {
		out = append(out, kafka.Message{Topic: topic, Partition: p, Offset: o})
	}
	return out
}
