package kongstandin_test

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/kongstandin"
)

// BenchmarkRunPhase measures one access phase of the echo plugin (10 PDK calls) and one
// log phase (4 calls) through the stand-in, and reports the cost per PDK round trip.
func BenchmarkRunPhase(b *testing.B) {
	dir, err := os.MkdirTemp("", "kp")
	require.NoError(b, err)
	defer os.RemoveAll(dir)
	ctx := context.Background()
	srv, err := kongstandin.Start(ctx, kongstandin.Config{
		Binary: echoBinary,
		Prefix: dir,
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(b, err)
	defer srv.Close()
	id, err := srv.StartInstance(ctx, "echo", []byte(`{"instance":"a","upstream_host":"10.0.0.5","upstream_port":8081}`))
	require.NoError(b, err)

	calls := 0
	b.ResetTimer()
	for b.Loop() {
		req := allowedRequest()
		access, err := srv.RunPhase(ctx, id, "access", req)
		if err != nil {
			b.Fatal(err)
		}
		logRes, err := srv.RunPhase(ctx, id, "log", req)
		if err != nil {
			b.Fatal(err)
		}
		calls += access.CallCount + logRes.CallCount
	}
	b.ReportMetric(float64(calls)/float64(b.N), "pdk-calls/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(calls), "ns/pdk-call")
}
