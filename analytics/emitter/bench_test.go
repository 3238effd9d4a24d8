package emitter_test

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/steller/platform/analytics/emitter"
	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/internal/testenv"
)

// BenchmarkEmit measures Emit on the request path while the background goroutines encode
// and produce to a broker: kfake in-process, and the real Apache Kafka test broker. The
// timer pauses whenever the queue passes half full until the background catches up, so
// every event is accepted (drops/op reports it if one was not). allocs/op counts the whole
// process, the background's encoding and produce included, amortized per event;
// BenchmarkEmitRequestPath shows Emit's own share.
func BenchmarkEmit(b *testing.B) {
	brokers := map[string]func(b *testing.B) ([]string, string){
		"kfake": func(b *testing.B) ([]string, string) {
			const name = "steller.request-logs.v1"
			c, _ := startKfake(b, 0, "", name)
			b.Cleanup(c.Close)
			return c.ListenAddrs(), name
		},
		"apache-kafka": func(b *testing.B) ([]string, string) {
			k := testenv.NewKafka(b)
			return k.Brokers, k.Topic(b, "emitter-bench", testPartitions)
		},
	}
	for _, name := range []string{"kfake", "apache-kafka"} {
		b.Run(name, func(b *testing.B) {
			addrs, topicName := brokers[name](b)
			const queueSize = 10_000
			e := newEmitter(b, addrs, topicName, b.TempDir(), func(c *emitter.Config) {
				c.QueueSize = queueSize
				c.Logger = slog.New(slog.DiscardHandler)
			})
			ev := event(1, 10)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				e.Emit(ev)
				if i%1024 == 1023 && e.Stats().QueueDepth > queueSize/2 {
					b.StopTimer()
					for e.Stats().QueueDepth > queueSize/10 {
						time.Sleep(100 * time.Microsecond)
					}
					b.StartTimer()
				}
			}
			b.StopTimer()
			s := e.Stats()
			b.ReportMetric(float64(s.DroppedTotal())/float64(b.N), "drops/op")
		})
	}
}

// BenchmarkEmitBaselineChannelSend is the floor Emit is compared with: a bare non-blocking
// send of the same event on a buffered channel that another goroutine drains, paced like
// BenchmarkEmit so that the sends find room.
func BenchmarkEmitBaselineChannelSend(b *testing.B) {
	ch := make(chan requestlog.Event, 10_000)
	done := make(chan struct{})
	go func() {
		for range ch {
		}
		close(done)
	}()
	ev := event(1, 10)
	dropped := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		select {
		case ch <- ev:
		default:
			dropped++
		}
		if i%1024 == 1023 && len(ch) > cap(ch)/2 {
			b.StopTimer()
			for len(ch) > cap(ch)/10 {
				time.Sleep(100 * time.Microsecond)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	close(ch)
	<-done
	b.ReportMetric(float64(dropped)/float64(b.N), "drops/op")
}

// BenchmarkEventEncode is what Emit would add per call if it encoded on the request path
// instead of leaving it to the background.
func BenchmarkEventEncode(b *testing.B) {
	ev := event(1, 10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}
