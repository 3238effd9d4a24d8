package detector

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the detector's series (namespace steller_milestone_detector), labelled by
// stream (request_logs, order_events).
type metrics struct {
	events, fetchErrors, writeErrors, commitErrors *prometheus.CounterVec
	recorded, skipped                              *prometheus.CounterVec
	lastEvent, lag                                 *prometheus.GaugeVec
}

// streamMetrics are one stream's series, resolved once.
type streamMetrics struct {
	events, fetchErrors, writeErrors, commitErrors prometheus.Counter
	recorded, skipped                              *prometheus.CounterVec
	lastEvent, lag                                 prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "steller", Subsystem: "milestone_detector",
			Name: name, Help: help}, append([]string{"stream"}, labels...))
	}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "steller", Subsystem: "milestone_detector",
			Name: name, Help: help}, []string{"stream"})
	}
	m := &metrics{
		events:       counter("events_read_total", "Messages read, decided, written and committed."),
		fetchErrors:  counter("fetch_errors_total", "Errors fetching from Kafka (retried)."),
		writeErrors:  counter("write_errors_total", "Failed PostgreSQL writes of a batch (retried; nothing committed meanwhile)."),
		commitErrors: counter("commit_errors_total", "Offset commits that failed after the batch was written (it may be read again)."),
		recorded:     counter("milestones_recorded_total", "Milestones this detector recorded first, by milestone.", "milestone"),
		skipped:      counter("skipped_total", "Messages skipped, by reason (undecodable, unknown partner...).", "reason"),
		lastEvent:    gauge("last_event_timestamp_seconds", "Kafka time of the newest message of the last committed batch."),
		lag:          gauge("consumer_lag_messages", "Messages behind the high watermark (kafka-go Reader.Stats().Lag, last partition fetched)."),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.events, m.fetchErrors, m.writeErrors, m.commitErrors, m.recorded, m.skipped, m.lastEvent, m.lag} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("detector: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) forStream(name string) streamMetrics {
	return streamMetrics{
		events: m.events.WithLabelValues(name), fetchErrors: m.fetchErrors.WithLabelValues(name),
		writeErrors: m.writeErrors.WithLabelValues(name), commitErrors: m.commitErrors.WithLabelValues(name),
		recorded:  m.recorded.MustCurryWith(prometheus.Labels{"stream": name}),
		skipped:   m.skipped.MustCurryWith(prometheus.Labels{"stream": name}),
		lastEvent: m.lastEvent.WithLabelValues(name), lag: m.lag.WithLabelValues(name),
	}
}
