package emitter

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons an event is dropped, the values of the "reason" label of
// steller_emitter_events_dropped_total.
const (
	// DropQueueFull: Emit found the in-memory queue full (the background could not keep up).
	DropQueueFull = "queue_full"
	// DropSpoolFull: Kafka was unreachable and the spool had reached SpoolMaxBytes.
	DropSpoolFull = "spool_full"
	// DropEncode: the event could not be encoded, or encoded larger than BatchBytes.
	DropEncode = "encode"
	// DropClosed: Emit was called after Close.
	DropClosed = "closed"
	// DropSpoolCorrupt: a torn or corrupt spool record (a crash mid-append) was skipped.
	DropSpoolCorrupt = "spool_corrupt"
)

var dropReasons = [...]string{DropQueueFull, DropSpoolFull, DropEncode, DropClosed, DropSpoolCorrupt}

// dropIndex maps a reason to its slot in counters.dropped.
const (
	dropQueueFull = iota
	dropSpoolFull
	dropEncode
	dropClosed
	dropSpoolCorrupt
)

// counters are the emitter's figures, kept in atomics so Emit can count without a lock and
// Stats and Prometheus can read them from any goroutine.
type counters struct {
	sent, spooled, replayed atomic.Uint64
	dropped                 [len(dropReasons)]atomic.Uint64
	spoolBytes              atomic.Int64
	spooling                atomic.Bool
}

// Stats is a snapshot of the emitter's counters.
type Stats struct {
	// Sent counts events acknowledged by Kafka on the direct path (not via the spool).
	Sent uint64
	// Spooled counts events written to the spool.
	Spooled uint64
	// Replayed counts spooled events acknowledged by Kafka (from this process's spool or one
	// left on disk by an earlier process).
	Replayed uint64
	// Dropped counts lost events by reason (DropQueueFull, DropSpoolFull, ...).
	Dropped map[string]uint64
	// QueueDepth is the number of events waiting in the in-memory queue.
	QueueDepth int
	// SpoolBytes is the size of the spool on disk.
	SpoolBytes int64
	// Spooling is true while events go to the spool rather than straight to Kafka.
	Spooling bool
}

// DroppedTotal is the sum of Dropped over all reasons.
func (s Stats) DroppedTotal() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

func (c *counters) snapshot(queueDepth int) Stats {
	s := Stats{
		Sent:       c.sent.Load(),
		Spooled:    c.spooled.Load(),
		Replayed:   c.replayed.Load(),
		Dropped:    make(map[string]uint64, len(dropReasons)),
		QueueDepth: queueDepth,
		SpoolBytes: c.spoolBytes.Load(),
		Spooling:   c.spooling.Load(),
	}
	for i, r := range dropReasons {
		s.Dropped[r] = c.dropped[i].Load()
	}
	return s
}

// register exposes the counters on reg as functions reading the atomics, so the request
// path never touches a Prometheus collector.
func (c *counters) register(reg prometheus.Registerer, queueDepth func() float64) error {
	if reg == nil {
		return nil
	}
	load := func(v *atomic.Uint64) func() float64 { return func() float64 { return float64(v.Load()) } }
	cs := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "steller_emitter_events_sent_total",
			Help: "Request-log events acknowledged by Kafka on the direct path.",
		}, load(&c.sent)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "steller_emitter_events_spooled_total",
			Help: "Request-log events written to the on-disk spool while Kafka was unreachable.",
		}, load(&c.spooled)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "steller_emitter_events_replayed_total",
			Help: "Spooled request-log events replayed to Kafka and acknowledged.",
		}, load(&c.replayed)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "steller_emitter_queue_depth",
			Help: "Request-log events waiting in the emitter's in-memory queue.",
		}, queueDepth),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "steller_emitter_spool_bytes",
			Help: "Size of the emitter's on-disk spool in bytes.",
		}, func() float64 { return float64(c.spoolBytes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "steller_emitter_spooling",
			Help: "1 while events go to the spool instead of straight to Kafka.",
		}, func() float64 {
			if c.spooling.Load() {
				return 1
			}
			return 0
		}),
	}
	for i, r := range dropReasons {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "steller_emitter_events_dropped_total",
			Help:        "Request-log events lost, by reason.",
			ConstLabels: prometheus.Labels{"reason": r},
		}, load(&c.dropped[i])))
	}
	for i, col := range cs {
		if err := reg.Register(col); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return err
		}
	}
	return nil
}
