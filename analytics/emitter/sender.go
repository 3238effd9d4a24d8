package emitter

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/steller/platform/analytics/topic"
)

// job is one batch handed to the sender.
type job struct {
	msgs   []kafka.Message
	replay bool     // the messages come from the spool
	end    spoolPos // for a replay: where to commit the spool once acknowledged
	start  time.Time
	// abandoned is set by the loop when it stopped waiting (StallTimeout or Close) and
	// spooled the messages itself; the sender's answer is then ignored.
	abandoned bool
}

// result is the sender's answer for one job: err is nil, a kafka.WriteErrors naming the
// failed messages, or an error that failed them all.
type result struct {
	job *job
	err error
}

// sender owns the kafka-go Writer and writes one job at a time.
type sender struct {
	w         *kafka.Writer
	transport *kafka.Transport
	timeout   time.Duration
	jobs      chan *job
	results   chan result
	exited    chan struct{}
}

func newSender(cfg Config) *sender {
	// The loop hands over whole batches and waits for each: NewOrderedWriter keeps a batch
	// in order, provided its BatchSize and BatchBytes are at least ours.
	w, transport := topic.NewOrderedWriter(topic.WriterConfig{Brokers: cfg.Brokers, Topic: cfg.Topic,
		ClientID: "steller-emitter", WriteTimeout: cfg.WriteTimeout, BatchSize: cfg.BatchSize, BatchBytes: cfg.BatchBytes,
		Compression: kafka.Lz4})
	return &sender{
		w:         w,
		transport: transport,
		timeout:   cfg.WriteTimeout,
		jobs:      make(chan *job),
		results:   make(chan result, 1),
		exited:    make(chan struct{}),
	}
}

// run writes jobs until the jobs channel is closed. The results channel holds one answer,
// and the loop has at most one job out, so run never blocks on answering.
func (s *sender) run() {
	defer close(s.exited)
	for j := range s.jobs {
		s.results <- result{job: j, err: s.write(j.msgs)}
	}
}

func (s *sender) write(msgs []kafka.Message) error {
	// The Writer retries on its own within MaxAttempts; this deadline only guards against a
	// hang beyond its timeouts.
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.timeout)
	defer cancel()
	return s.w.WriteMessages(ctx, msgs...)
}

// close stops the sender and closes the Writer, giving up after ctx ends (a Writer blocked
// on an unreachable broker is then left to its own timeouts).
func (s *sender) close(ctx context.Context) error {
	close(s.jobs)
	done := make(chan error, 1)
	go func() {
		<-s.exited
		err := s.w.Close()
		s.transport.CloseIdleConnections()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// failed splits a batch by a write's error into the messages that were not written, or nil
// when all were.
func failed(msgs []kafka.Message, err error) []kafka.Message {
	if err == nil {
		return nil
	}
	var werrs kafka.WriteErrors
	if !errors.As(err, &werrs) || len(werrs) != len(msgs) {
		return msgs
	}
	var out []kafka.Message
	for i, e := range werrs {
		if e != nil {
			out = append(out, msgs[i])
		}
	}
	return out
}

// summary shortens a write error for the log (topic.SummarizeWriteErrors).
func summary(err error) string {
	if err == nil {
		return ""
	}
	return topic.SummarizeWriteErrors(err).Error()
}
