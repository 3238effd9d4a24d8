package kongplugin_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/gateway-plugin/edge/edgetest"
	"github.com/steller/platform/gateway-plugin/kongstandin"
)

const (
	standinSandbox = "sandbox.internal:8081"
	standinLive    = "live.internal:8443"
)

// standin builds the real steller-edge binary, starts it the way Kong does (-dump, then the
// socket under the Kong prefix) through the Kong stand-in, and configures one plugin
// instance on the decision table's keys. The fixture's times are relative to now, because
// the binary decides expiry on the real clock.
func standin(t testing.TB) (*kongstandin.Plugin, *edgetest.Fixture) {
	t.Helper()
	dir, err := os.MkdirTemp("", "kong") // short: unix socket paths are limited to 107 bytes
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "steller-edge")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/steller-edge").CombinedOutput()
	require.NoError(t, err, "build steller-edge: %s", out)

	fx := edgetest.New(time.Now())
	keys, err := fx.WriteSnapshot(dir)
	require.NoError(t, err)

	srv, err := kongstandin.Start(context.Background(), kongstandin.Config{
		Binary: bin, Prefix: dir, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	assert.Equal(t, "steller-edge", srv.Info().Name)

	config, err := json.Marshal(map[string]any{
		"sandbox_upstream_url": "http://" + standinSandbox,
		"live_upstream_url":    "https://" + standinLive,
		"keys_file":            keys,
	})
	require.NoError(t, err)
	plugin, err := srv.NewPlugin("steller-edge", config)
	require.NoError(t, err)
	return plugin, fx
}

// scripted turns a decision-table row into the request Kong would present: Kong resolves
// the client address itself (trusted_ips), so a spoofed X-Forwarded-For is only a header,
// and caseHeaders also sends a forged X-Steller-Partner-Id the edge must overwrite.
func scripted(c edgetest.Case) *kongstandin.ScriptedRequest {
	return &kongstandin.ScriptedRequest{
		Method: c.Method, Path: c.Path, Headers: caseHeaders(c, requestID(c)), Body: []byte(c.Body),
		ClientIP: c.ClientIP.String(), ForwardedIP: c.ClientIP.String(),
		Response: kongstandin.Response{Status: http.StatusOK, Size: 512},
	}
}

func TestDecisionTableThroughCompiledPluginInKongStandIn(t *testing.T) {
	t.Parallel()
	plugin, fx := standin(t)
	ctx := context.Background()

	for _, c := range fx.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			req := scripted(c)
			access, err := plugin.RunPhase(ctx, "access", req)
			require.NoError(t, err)
			logPhase, err := plugin.RunPhase(ctx, "log", req)
			require.NoError(t, err)
			total := access.CallCount + logPhase.CallCount

			if c.Want.Upstream == edgetest.None {
				require.NotNil(t, access.Exit, "expected a denial, the plugin let the request through")
				assert.Equal(t, c.Want.Status, access.Exit.Status)
				var problem struct {
					Code      string `json:"code"`
					RequestID string `json:"request_id"`
					Status    int    `json:"status"`
				}
				require.NoError(t, json.Unmarshal(access.Exit.Body, &problem), "%s", access.Exit.Body)
				assert.Equal(t, c.Want.Code, problem.Code)
				assert.Equal(t, c.Want.Status, problem.Status)
				assert.True(t, edge.ValidRequestID(problem.RequestID), "request id %q", problem.RequestID)
				assert.Equal(t, "application/problem+json", access.Exit.Headers.Get("Content-Type"))
				assert.LessOrEqual(t, total, 8, "PDK calls for a denied request: %v %v", access.Calls, logPhase.Calls)
				return
			}

			require.Nil(t, access.Exit, "expected an allowed request, got %+v", access.Exit)
			require.NotNil(t, access.Target, "no upstream target set")
			want := standinSandbox
			if c.Want.Upstream == edgetest.Live {
				want = standinLive
			}
			assert.Equal(t, want, access.Target.Host+":"+strconv.Itoa(access.Target.Port))
			up := access.UpstreamHeaders
			assert.Equal(t, c.Want.PartnerID, up.Get(edge.HeaderPartnerID))
			assert.Equal(t, edgetest.WorkspaceID, up.Get(edge.HeaderWorkspaceID))
			assert.Equal(t, string(c.Want.Environment), up.Get(edge.HeaderEnvironment))
			assert.Equal(t, edgetest.KeyID(c.Want.KeyName), up.Get(edge.HeaderKeyID))
			assert.True(t, edge.ValidRequestID(up.Get(edge.HeaderRequestID)))
			// The key never reaches the upstream.
			for _, name := range []string{"Authorization", "X-Api-Key"} {
				assert.Contains(t, access.ClearedHeaders, name, "%s not stripped", name)
			}
			assert.LessOrEqual(t, total, 8, "PDK calls for an allowed request: %v %v", access.Calls, logPhase.Calls)
		})
	}
}

// BenchmarkPDKRoundTripsPerAllowedRequest runs access and log for an allowed request
// through the compiled plugin and reports the PDK round trips per request (target: 8 or
// fewer; a straightforward plugin makes about 12) next to the wall time of both phases.
func BenchmarkPDKRoundTripsPerAllowedRequest(b *testing.B) {
	plugin, fx := standin(b)
	var allowed edgetest.Case
	for _, c := range fx.Cases() {
		if c.Want.Upstream == edgetest.Sandbox {
			allowed = c
			break
		}
	}
	ctx := context.Background()
	calls := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := scripted(allowed)
		access, err := plugin.RunPhase(ctx, "access", req)
		if err != nil || access.Exit != nil {
			b.Fatalf("access: %v %+v", err, access)
		}
		logPhase, err := plugin.RunPhase(ctx, "log", req)
		if err != nil {
			b.Fatal(err)
		}
		calls += access.CallCount + logPhase.CallCount
	}
	b.ReportMetric(float64(calls)/float64(b.N), "pdk-calls/req")
}
