package ingest

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/steller/platform/analytics/deadletter"
	"github.com/steller/platform/analytics/topic"
)

// Defaults for the zero values of Config.
const (
	DefaultGroupID = "steller-ingest"
	// DefaultOrderGroupID is the Orders stream's consumer group.
	DefaultOrderGroupID   = "steller-ingest-orders"
	DefaultBatchSize      = 50_000
	DefaultFlushInterval  = time.Second
	DefaultRetryMin       = 200 * time.Millisecond
	DefaultRetryMax       = 30 * time.Second
	DefaultInsertTimeout  = time.Minute
	DefaultStopTimeout    = 15 * time.Second
	DefaultSessionTimeout = 30 * time.Second
	DefaultMaxEventAge    = 366 * 24 * time.Hour
	DefaultMaxClockSkew   = time.Hour
	DefaultFetchMaxBytes  = 10 << 20
	DefaultQueueCapacity  = 10_000
	// DefaultInsertConcurrency is 2: ClickHouse handles one insert on one thread, and a
	// second batch in flight overlaps its decoding and insert with the first one's.
	DefaultInsertConcurrency = 2
)

// DefaultDeadLetterTopic is where undecodable request-log messages go.
const DefaultDeadLetterTopic = topic.RequestLogs + deadletter.Suffix

// DefaultOrderDeadLetterTopic is where undecodable order events go.
const DefaultOrderDeadLetterTopic = topic.OrderEvents + deadletter.Suffix

// Config configures an Ingest. Zero values take the defaults above.
type Config struct {
	// Stream is what the topic carries: RequestLogs (the default) or Orders.
	Stream Stream
	// Brokers are the Kafka bootstrap addresses (required).
	Brokers []string
	// Topic is the stream's topic; default topic.RequestLogs, or topic.OrderEvents for
	// Orders.
	Topic string
	// GroupID is the consumer group: every ingest process of a deployment shares it for a
	// stream, and Kafka spreads the topic's partitions over them. Default DefaultGroupID,
	// or DefaultOrderGroupID for Orders. Two streams must not share a group.
	GroupID string
	// DeadLetterTopic receives messages that cannot become rows; Run creates it if
	// missing. Default Topic + ".dlq" (DefaultDeadLetterTopic for the default Topic).
	DeadLetterTopic string
	// DeadLetterReplication is the replication factor Run creates the dead-letter topic
	// with; default 1 (3 in production).
	DeadLetterReplication int

	// Conn is the ClickHouse connection (required; warehouse.Open).
	Conn driver.Conn
	// Database holds the stream's table (request_logs, order_events), created by
	// schema.Migrate (required).
	Database string

	// BatchSize is the most messages per insert; default DefaultBatchSize.
	BatchSize int
	// FlushInterval is the longest a message waits for its batch to fill; it bounds
	// freshness. Default DefaultFlushInterval.
	FlushInterval time.Duration
	// InsertConcurrency is how many batches are decoded and stored at once (offsets are
	// still committed in order); default DefaultInsertConcurrency.
	InsertConcurrency int
	// RetryMin and RetryMax bound the exponential backoff between attempts to store a
	// batch while ClickHouse (or the dead-letter topic) is failing.
	RetryMin, RetryMax time.Duration
	// InsertTimeout bounds one insert attempt; default DefaultInsertTimeout.
	InsertTimeout time.Duration
	// StopTimeout bounds the final flush after the context ends; default
	// DefaultStopTimeout. What is not stored by then is not committed and is redelivered.
	StopTimeout time.Duration
	// SessionTimeout is the consumer-group session: a crashed member's partitions move to
	// the others after it. Default DefaultSessionTimeout (the broker allows 6 s to 300 s).
	SessionTimeout time.Duration
	// MaxEventAge and MaxClockSkew bound the event time (timestamp_ms, occurred_at_ms)
	// around the clock; events outside go to the dead-letter topic. Defaults DefaultMaxEventAge and DefaultMaxClockSkew.
	MaxEventAge, MaxClockSkew time.Duration
	// FetchMaxBytes is the most bytes one fetch returns per partition; default
	// DefaultFetchMaxBytes.
	FetchMaxBytes int
	// QueueCapacity is how many fetched messages kafka-go buffers ahead; default
	// DefaultQueueCapacity.
	QueueCapacity int

	// Registerer receives the metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// withDefaults validates cfg, reporting every problem at once, and fills in defaults.
func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("ingest: Kafka brokers are required"))
	}
	if cfg.Conn == nil {
		errs = append(errs, errors.New("ingest: a ClickHouse connection is required"))
	}
	if cfg.Database == "" {
		errs = append(errs, errors.New("ingest: a ClickHouse database is required"))
	}
	if cfg.Stream == "" {
		cfg.Stream = RequestLogs
	}
	spec, ok := cfg.Stream.spec()
	if !ok {
		errs = append(errs, fmt.Errorf("ingest: unknown stream %q", cfg.Stream))
	}
	for name, v := range map[string]int64{
		"BatchSize": int64(cfg.BatchSize), "FlushInterval": int64(cfg.FlushInterval),
		"RetryMin": int64(cfg.RetryMin), "RetryMax": int64(cfg.RetryMax),
		"InsertTimeout": int64(cfg.InsertTimeout), "StopTimeout": int64(cfg.StopTimeout),
		"SessionTimeout": int64(cfg.SessionTimeout), "MaxEventAge": int64(cfg.MaxEventAge),
		"MaxClockSkew": int64(cfg.MaxClockSkew), "FetchMaxBytes": int64(cfg.FetchMaxBytes),
		"QueueCapacity": int64(cfg.QueueCapacity), "InsertConcurrency": int64(cfg.InsertConcurrency), "DeadLetterReplication": int64(cfg.DeadLetterReplication),
	} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("ingest: %s must not be negative", name))
		}
	}
	if cfg.RetryMin > 0 && cfg.RetryMax > 0 && cfg.RetryMin > cfg.RetryMax {
		errs = append(errs, fmt.Errorf("ingest: RetryMin %s is above RetryMax %s", cfg.RetryMin, cfg.RetryMax))
	}
	if cfg.DeadLetterTopic != "" && cfg.DeadLetterTopic == cfg.Topic {
		errs = append(errs, errors.New("ingest: the dead-letter topic must differ from the source topic"))
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defStr := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	defStr(&cfg.Topic, spec.topic)
	defStr(&cfg.GroupID, spec.group)
	defStr(&cfg.DeadLetterTopic, cfg.Topic+deadletter.Suffix)
	def(&cfg.DeadLetterReplication, 1)
	def(&cfg.BatchSize, DefaultBatchSize)
	def(&cfg.FetchMaxBytes, DefaultFetchMaxBytes)
	def(&cfg.QueueCapacity, DefaultQueueCapacity)
	def(&cfg.InsertConcurrency, DefaultInsertConcurrency)
	defDur(&cfg.FlushInterval, DefaultFlushInterval)
	defDur(&cfg.RetryMin, DefaultRetryMin)
	defDur(&cfg.RetryMax, DefaultRetryMax)
	defDur(&cfg.InsertTimeout, DefaultInsertTimeout)
	defDur(&cfg.StopTimeout, DefaultStopTimeout)
	defDur(&cfg.SessionTimeout, DefaultSessionTimeout)
	defDur(&cfg.MaxEventAge, DefaultMaxEventAge)
	defDur(&cfg.MaxClockSkew, DefaultMaxClockSkew)
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = cfg.RetryMin
	}
	if cfg.DeadLetterTopic == cfg.Topic {
		return cfg, errors.New("ingest: the dead-letter topic must differ from the source topic")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}
