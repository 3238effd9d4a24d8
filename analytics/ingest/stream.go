package ingest

import (
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/topic"
)

// Stream is the kind of event an Ingest consumes: it picks the decoder, the ClickHouse
// table and the defaults for the topic and the consumer group. The batching, the
// insert-then-commit order, the retries and the dead-letter topic are the same for all.
type Stream string

// The streams an Ingest can consume. Run one Ingest per stream; each has its own
// consumer group, so one stream's lag, rebalances or offset resets never touch the other.
const (
	// RequestLogs: requestlog.Event from steller.request-logs.v1 into request_logs
	// (consumer group DefaultGroupID).
	RequestLogs Stream = "request_logs"
	// Orders: orderevent.Event (sandbox and live) from steller.order-events.v1 into
	// order_events (consumer group DefaultOrderGroupID).
	Orders Stream = "orders"
)

// rowSet holds one batch's rows for the stream's table, column by column.
type rowSet interface {
	// len is the number of rows.
	len() int
	// reset empties the set, keeping its capacity.
	reset()
	// appendTo fills a prepared batch whose columns are the stream's columns, stamping
	// every row with ingestedAt.
	appendTo(cb driver.Batch, ingestedAt time.Time) error
}

// decoder turns message values into rows. One decoder serves one batch at a time (it
// may reuse buffers).
type decoder interface {
	// decodeInto appends value's event to rows (a rowSet of the decoder's stream), or
	// says why it cannot become a row.
	decodeInto(value []byte, rows rowSet) *rejection
}

// streamSpec is what differs between streams.
type streamSpec struct {
	table      string
	columns    []string
	topic      string
	group      string
	newRows    func() rowSet
	newDecoder func(cfg Config) decoder
}

// spec returns the stream's description, false for an unknown stream.
func (s Stream) spec() (streamSpec, bool) {
	switch s {
	case RequestLogs:
		return streamSpec{
			table: schema.RequestLogsTable, columns: requestColumns, topic: topic.RequestLogs, group: DefaultGroupID,
			newRows: func() rowSet { return &requestRows{} },
			newDecoder: func(cfg Config) decoder {
				return &validator{now: cfg.Now, maxAge: cfg.MaxEventAge, maxAhead: cfg.MaxClockSkew}
			},
		}, true
	case Orders:
		return streamSpec{
			table: schema.OrderEventsTable, columns: orderColumns, topic: topic.OrderEvents, group: DefaultOrderGroupID,
			newRows: func() rowSet { return &orderRows{} },
			newDecoder: func(cfg Config) decoder {
				return &orderValidator{now: cfg.Now, maxAge: cfg.MaxEventAge, maxAhead: cfg.MaxClockSkew}
			},
		}, true
	}
	return streamSpec{}, false
}
