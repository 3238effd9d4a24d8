package ingest

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the ingest's Prometheus series (namespace steller_ingest), labelled with
// the stream's table, so the ingests of several streams share one registry.
type metrics struct {
	rowsInserted    prometheus.Counter
	batches         prometheus.Counter
	insertErrors    prometheus.Counter
	insertRetries   prometheus.Counter
	deadLettered    *prometheus.CounterVec
	deadLetterError prometheus.Counter
	commitErrors    prometheus.Counter
	fetchErrors     prometheus.Counter
	fetched         prometheus.Counter
	batchSeconds    prometheus.Histogram
	lag             prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, table string) (*metrics, error) {
	labels := prometheus.Labels{"table": table}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "steller", Subsystem: "ingest", Name: name, Help: help, ConstLabels: labels})
	}
	m := &metrics{
		rowsInserted:    counter("rows_inserted_total", "Rows stored in the ClickHouse table."),
		batches:         counter("batches_total", "Batches stored and committed."),
		insertErrors:    counter("insert_errors_total", "Failed ClickHouse batch inserts."),
		insertRetries:   counter("insert_retries_total", "Insert attempts that repeated a failed batch."),
		deadLetterError: counter("dead_letter_errors_total", "Failed writes to the dead-letter topic (retried)."),
		commitErrors:    counter("commit_errors_total", "Offset commits that failed after the batch was stored (the batch may be redelivered)."),
		fetchErrors:     counter("fetch_errors_total", "Errors fetching from Kafka."),
		fetched:         counter("messages_fetched_total", "Messages fetched from Kafka into batches (stored or not yet)."),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "steller", Subsystem: "ingest", Name: "dead_lettered_total", ConstLabels: labels,
			Help: "Messages written to the dead-letter topic, by reason.",
		}, []string{"reason"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "steller", Subsystem: "ingest", Name: "batch_duration_seconds", ConstLabels: labels,
			Help:    "Time from handing a batch over to having it decoded, stored and committed, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "steller", Subsystem: "ingest", Name: "consumer_lag_messages", ConstLabels: labels,
			Help: "Messages between the last fetched offset and the partition's high watermark (kafka-go Reader.Stats().Lag, last partition fetched).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{
		m.rowsInserted, m.batches, m.insertErrors, m.insertRetries, m.deadLettered,
		m.deadLetterError, m.commitErrors, m.fetchErrors, m.fetched, m.batchSeconds, m.lag,
	} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("ingest: metrics already registered (one Ingest per stream and registry): %w", err)
			}
			return nil, fmt.Errorf("ingest: register metrics: %w", err)
		}
	}
	return m, nil
}
