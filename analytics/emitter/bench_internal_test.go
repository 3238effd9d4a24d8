package emitter

import (
	"testing"
	"time"

	"github.com/steller/platform/analytics/requestlog"
)

// BenchmarkEmitRequestPath runs Emit's own code against a queue that a bare goroutine
// drains (paced like BenchmarkEmit so sends find room), so allocs/op counts only the request path (BenchmarkEmit's figure includes the
// background's encoding and produce, since Go counts allocations process-wide).
func BenchmarkEmitRequestPath(b *testing.B) {
	e := &Emitter{queue: make(chan requestlog.Event, 10_000)}
	done := make(chan struct{})
	go func() {
		for range e.queue {
		}
		close(done)
	}()
	ev := requestlog.Event{
		SchemaVersion: requestlog.SchemaVersion, RequestID: "req_00000001", PartnerID: "ptr_1",
		Method: "POST", Path: "/v1/orders", Route: "orders.create", Status: 201, Decision: requestlog.DecisionAllow,
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		e.Emit(ev)
		if i%1024 == 1023 && len(e.queue) > cap(e.queue)/2 {
			b.StopTimer()
			for len(e.queue) > cap(e.queue)/10 {
				time.Sleep(100 * time.Microsecond)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	close(e.queue)
	<-done
	b.ReportMetric(float64(e.c.dropped[dropQueueFull].Load())/float64(b.N), "drops/op")
}
