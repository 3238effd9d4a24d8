package edgesync_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/control-plane/partner/partnertest"
	edgeclient "github.com/steller/platform/gateway-plugin/edgesync"
)

// BenchmarkRevocationToEdge measures, per revocation, the time from the revoke request
// starting until a connected edge's table (client.Lookup) shows the key revoked: the
// control plane's commit, the NOTIFY, the woken long-poll's answer, and the edge applying
// it. commit-p50-ms is the revoke call alone, the baseline the propagation adds to. Run
// with -benchtime=200x for 200 revocations.
func BenchmarkRevocationToEdge(b *testing.B) {
	ctx := context.Background()
	h := newHarness(b, true)
	tn := partnertest.Seed(b, h.pool, "Bench", false)
	h.connect(b, 25*time.Second)
	var endToEnd, commit []time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		k, err := h.keys.Create(ctx, tn.Owner, catalogKey())
		require.NoError(b, err)
		h.until(b, k.Secret, 5*time.Second, func(_ *edgeclient.Record, ok bool) bool { return ok })
		b.StartTimer()
		start := time.Now()
		_, err = h.keys.Revoke(ctx, tn.Owner, k.Key.ID)
		require.NoError(b, err)
		commit = append(commit, time.Since(start))
		h.until(b, k.Secret, 5*time.Second, func(r *edgeclient.Record, ok bool) bool { return ok && r.Key.Status == edgewire.KeyRevoked })
		endToEnd = append(endToEnd, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(quantile(endToEnd, 0.50), "p50-ms")
	b.ReportMetric(quantile(endToEnd, 0.99), "p99-ms")
	b.ReportMetric(quantile(endToEnd, 1), "max-ms")
	b.ReportMetric(quantile(commit, 0.50), "commit-p50-ms")
}

// quantile returns the q-quantile of ds in milliseconds (nearest rank).
func quantile(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return float64(s[i]) / float64(time.Millisecond)
}
