package gateway_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/gateway-plugin/edge/edgetest"
	"github.com/steller/platform/gateway-plugin/gateway"
	"github.com/steller/platform/policies"
)

// BenchmarkGatewayVsBareProxy compares the gateway's throughput with a bare
// httputil.ReverseProxy to the same upstream, in the same run: each iteration sends one
// batch of concurrent requests through each, alternately, so drift in the machine's load
// affects both alike. It reports requests per second for each and their ratio
// (gateway/bare; the target is >= 0.85).
func BenchmarkGatewayVsBareProxy(b *testing.B) {
	payload := strings.Repeat(`{"sku":"gc_25","price_cents":2500},`, 30)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, payload)
	}))
	defer upstream.Close()
	target, err := url.Parse(upstream.URL)
	require.NoError(b, err)

	bare := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport: benchTransport(),
	})
	defer bare.Close()

	fx := edgetest.New(time.Now())
	engine, err := policies.New(policies.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(b, err)
	core, err := edge.New(edge.Config{Keys: fx.Table, Authorizer: engine, SandboxUpstream: upstream.URL, LiveUpstream: upstream.URL, Logger: slog.New(slog.DiscardHandler), Signer: edgetest.Signer()})
	require.NoError(b, err)
	g, err := gateway.New(gateway.Config{Core: core, Emitter: requestlog.Nop{}, Logger: slog.New(slog.DiscardHandler), Transport: benchTransport()})
	require.NoError(b, err)
	gw := httptest.NewServer(g)
	defer gw.Close()

	client := &http.Client{Transport: benchTransport()}
	key := fx.Secret(edgetest.KeyTestFull)
	const workers, perWorker = 8, 25
	batch := func(base string) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range perWorker {
					req, _ := http.NewRequest("GET", base+"/v1/catalog", nil)
					req.Header.Set("Authorization", "Bearer "+key)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	batch(bare.URL) // warm connections
	batch(gw.URL)
	var bareTime, gwTime time.Duration
	b.ResetTimer()
	for b.Loop() {
		bareTime += batch(bare.URL)
		gwTime += batch(gw.URL)
	}
	n := float64(b.N * workers * perWorker)
	b.ReportMetric(n/bareTime.Seconds(), "bare-req/s")
	b.ReportMetric(n/gwTime.Seconds(), "gateway-req/s")
	b.ReportMetric(bareTime.Seconds()/gwTime.Seconds(), "ratio")
}

func benchTransport() *http.Transport {
	return &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
}
