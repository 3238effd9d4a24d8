package emitter_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/steller/platform/analytics/emitter"
)

// TestStalledBrokerSpools makes the broker hold every produce request unanswered (a hung
// broker, not a refused connection): after StallTimeout the batch in flight and everything
// behind it go to the spool, so the queue keeps draining; once the broker answers again,
// everything arrives in order per partner (the abandoned batch possibly twice).
func TestStalledBrokerSpools(t *testing.T) {
	t.Parallel()
	const topicName = "steller.request-logs.v1"
	broker, _ := startKfake(t, 0, "", topicName)
	defer broker.Close()

	var stalled atomic.Bool
	release := make(chan struct{})
	broker.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		broker.KeepControl()
		if stalled.Load() {
			broker.SleepControl(func() { <-release })
		}
		return nil, nil, false // then handled as usual
	})

	e := newEmitter(t, broker.ListenAddrs(), topicName, t.TempDir(), func(c *emitter.Config) {
		c.StallTimeout = 300 * time.Millisecond
		c.WriteTimeout = 20 * time.Second
		c.QueueSize = 500 // smaller than what is emitted during the stall
	})
	const before, during, after = 200, 1500, 200
	emit := func(from, to int) {
		for i := from; i < to; i++ {
			e.Emit(event(i, 5))
			time.Sleep(time.Millisecond)
		}
	}
	emit(0, before)
	// On a loaded machine the first produce can outlast StallTimeout, so the first events
	// may go through the spool: wait until they are all acknowledged, by either path, and
	// the emitter sends directly again, so the stall below is what makes it spool.
	waitFor(t, 20*time.Second, "the first events to be sent", func() bool {
		s := e.Stats()
		return s.Sent+s.Replayed >= before && !s.Spooling
	})

	stalled.Store(true)
	emit(before, before+during)
	s := e.Stats()
	t.Logf("while stalled: %+v", s)
	assert.True(t, s.Spooling, "a hung broker sends events to the spool")
	assert.Positive(t, s.Spooled)

	stalled.Store(false)
	close(release)
	emit(before+during, before+during+after)
	n := before + during + after
	waitFor(t, 30*time.Second, "the spool to drain", func() bool {
		s := e.Stats()
		return !s.Spooling && s.QueueDepth == 0 && s.Replayed == s.Spooled
	})
	require.NoError(t, e.Close(context.Background()))
	s = e.Stats()
	t.Logf("after: %+v", s)
	assert.Zero(t, s.DroppedTotal(), "the queue never filled although it is smaller than the stall's traffic")
	dups := checkDelivered(t, consumeAll(t, broker.ListenAddrs(), topicName, n, 30*time.Second), seqs(0, n))
	t.Logf("duplicates from the abandoned batch: %d", dups)
}
