package kongplugin_test

import (
	"net/http"
	"testing"

	"github.com/steller/platform/gateway-plugin/edge/edgetest"
)

// BenchmarkAccessAndLog runs an allowed request's access and log phases against the
// in-process fake Kong (PDK calls over an in-memory pipe with go-pdk's framing). It
// measures the plugin's own cost per request, not Kong's; pdk-calls/op is the round trips.
func BenchmarkAccessAndLog(b *testing.B) {
	s := newSetup(b, nil)
	cfg := s.config(nil)
	h := http.Header{"Authorization": {"Bearer " + s.fx.Secret(edgetest.KeyTestFull)}, "User-Agent": {"bench"}}
	calls := 0
	b.ReportAllocs()
	for b.Loop() {
		kong := newFakeKong(b, "GET", "/v1/orders/ord_1", "10.10.10.1", h)
		cfg.Access(kong.phase())
		cfg.Log(kong.phase())
		calls += len(kong.Calls())
	}
	b.ReportMetric(float64(calls)/float64(b.N), "pdk-calls/op")
}
