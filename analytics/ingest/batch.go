package ingest

import (
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/steller/platform/analytics/warehouse"
)

// insertSQL is the column-named INSERT that PrepareBatch needs (a bare INSERT INTO t
// yields an empty block on 18.16).
func insertSQL(database, table string, columns []string) string {
	return "INSERT INTO " + warehouse.QuoteIdentifier(database) + "." + table +
		" (" + strings.Join(columns, ", ") + ")"
}

// deadLetter is a message that could not be stored, with the reason.
type deadLetter struct {
	msg kafka.Message
	why rejection
}

// batch is a set of consecutive messages: the stream's rows for ClickHouse (column by
// column: appending whole columns is far cheaper than a row at a time), the messages to
// dead-letter, and the highest offset per partition to commit once both are stored.
type batch struct {
	messages int
	offsets  map[int]int64
	// msgs are the fetched messages, decoded into rows and dead letters by decode.
	msgs []kafka.Message
	dead []deadLetter
	// table holds the decoded rows, in the stream's columns.
	table rowSet
}

func newBatch(table rowSet) *batch { return &batch{offsets: map[int]int64{}, table: table} }

// reset empties b for reuse, keeping its capacity.
func (b *batch) reset() {
	b.messages = 0
	clear(b.offsets)
	clear(b.msgs) // drop the references to the message buffers
	b.msgs = b.msgs[:0]
	clear(b.dead)
	b.dead = b.dead[:0]
	b.table.reset()
}

// rows is the number of rows for ClickHouse.
func (b *batch) rows() int { return b.table.len() }

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
func (b *batch) decode(d decoder) {
	for i := range b.msgs {
		if why := d.decodeInto(b.msgs[i].Value, b.table); why != nil {
			b.dead = append(b.dead, deadLetter{msg: b.msgs[i], why: *why})
		}
	}
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
