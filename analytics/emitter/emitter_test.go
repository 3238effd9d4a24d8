package emitter_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/emitter"
	"github.com/steller/platform/analytics/requestlog"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	cases := []struct {
		name    string
		cfg     emitter.Config
		wantErr []string
	}{
		{name: "empty", cfg: emitter.Config{}, wantErr: []string{"Brokers", "Logger", "SpoolDir"}},
		{name: "negative sizes", cfg: emitter.Config{
			Brokers: []string{"127.0.0.1:1"}, Logger: logger, SpoolDir: t.TempDir(), QueueSize: -1, SpoolMaxBytes: -5,
		}, wantErr: []string{"QueueSize", "SpoolMaxBytes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := emitter.New(tc.cfg)
			require.Error(t, err)
			for _, w := range tc.wantErr {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

// TestEmitConcurrentWithClose races many emitters against Close: every Emit either
// reached Kafka or was counted as dropped after Close; nothing vanishes.
func TestEmitConcurrentWithClose(t *testing.T) {
	t.Parallel()
	const topicName = "steller.request-logs.v1"
	broker, _ := startKfake(t, 0, "", topicName)
	defer broker.Close()
	e := newEmitter(t, broker.ListenAddrs(), topicName, t.TempDir(), nil)
	var wg sync.WaitGroup
	const workers, each = 8, 500
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e.Emit(event(w*each+i, 5))
			}
		})
	}
	time.Sleep(time.Millisecond)
	require.NoError(t, e.Close(context.Background()))
	wg.Wait()
	s := e.Stats()
	assert.Equal(t, uint64(workers*each), s.Sent+s.Dropped[emitter.DropClosed], "stats %+v", s)
	assert.Zero(t, s.Dropped[emitter.DropQueueFull])
	require.NoError(t, e.Close(context.Background()), "a second Close is harmless")
}

func TestMetricsRegistered(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	port := freePort(t)
	e := newEmitter(t, []string{"127.0.0.1:" + itoa(port)}, "steller.request-logs.v1", t.TempDir(), func(c *emitter.Config) {
		c.Registerer = reg
		c.QueueSize = 1
		c.BatchTimeout = time.Hour
	})
	for range 50 {
		e.Emit(requestlog.Event{RequestID: "r", PartnerID: "p"})
	}
	families, err := reg.Gather()
	require.NoError(t, err)
	values := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			values[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for _, name := range []string{
		"steller_emitter_events_sent_total", "steller_emitter_events_spooled_total",
		"steller_emitter_events_replayed_total", "steller_emitter_queue_depth", "steller_emitter_spool_bytes",
		"steller_emitter_events_dropped_total{reason=queue_full}", "steller_emitter_events_dropped_total{reason=spool_full}",
		"steller_emitter_events_dropped_total{reason=encode}",
	} {
		assert.Contains(t, values, name)
	}
	assert.Positive(t, values["steller_emitter_events_dropped_total{reason=queue_full}"], "a one-slot queue overflows")
	assert.Equal(t, float64(e.Stats().Dropped[emitter.DropQueueFull]), values["steller_emitter_events_dropped_total{reason=queue_full}"])
}
