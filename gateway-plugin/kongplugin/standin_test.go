package kongplugin_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/gateway-plugin/edge/edgetest"
	"github.com/steller/platform/internal/kongstandin"
	"github.com/steller/platform/internal/testenv"
)

const (
	standinSandbox = "sandbox.internal:8081"
	standinLive    = "live.internal:8443"
)

// standinEnv is the real steller-edge binary running under the Kong stand-in, with what
// its plugin instances are configured on.
type standinEnv struct {
	srv    *kongstandin.Server
	fx     *edgetest.Fixture
	kafka  testenv.Kafka
	events string // the test's own request-log topic
	dir    string // the Kong prefix, also holding the keys file and the spool
	keys   string // the keys file
}

// startStandin builds the real steller-edge binary and starts it the way Kong does (-dump,
// then the socket under the Kong prefix) through the Kong stand-in, which logs the plugin
// server's output to log. The fixture's times are relative to now, because the binary
// decides expiry on the real clock.
func startStandin(t testing.TB, log *slog.Logger) *standinEnv {
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

	srv, err := kongstandin.Start(context.Background(), kongstandin.Config{Binary: bin, Prefix: dir, Logger: log})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	assert.Equal(t, "steller-edge", srv.Info().Name)

	kafka := testenv.NewKafka(t)
	return &standinEnv{srv: srv, fx: fx, kafka: kafka, events: kafka.Topic(t, "edge-events", 3), dir: dir, keys: keys}
}

// config is a plugin instance's config: the decision table's keys, request-log events to
// the test's topic, with extra's fields added or replaced.
func (env *standinEnv) config(t testing.TB, extra map[string]any) []byte {
	t.Helper()
	cfg := map[string]any{
		"sandbox_upstream_url": "http://" + standinSandbox,
		"live_upstream_url":    "https://" + standinLive,
		"keys_file":            env.keys,
		"edge_signing_secrets": []string{edgetest.SigningSecret},
		"kafka_brokers":        env.kafka.Brokers,
		"kafka_topic":          env.events,
		"spool_dir":            filepath.Join(env.dir, "spool"),
	}
	maps.Copy(cfg, extra)
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	return raw
}

// standin starts the binary under the Kong stand-in and declares one plugin instance on the
// decision table's keys, sending its request-log events to a Kafka topic of the test's own.
func standin(t testing.TB) (*kongstandin.Plugin, *edgetest.Fixture, testenv.Kafka, string) {
	t.Helper()
	env := startStandin(t, slog.New(slog.DiscardHandler))
	plugin, err := env.srv.NewPlugin("steller-edge", env.config(t, nil))
	require.NoError(t, err)
	return plugin, env.fx, env.kafka, env.events
}

// consumeEvents reads request-log events from the topic until want distinct request ids
// arrived or the deadline passed.
func consumeEvents(t *testing.T, k testenv.Kafka, topic string, want int) map[string]requestlog.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: k.Brokers, Topic: topic, GroupID: topic + ".check", MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	got := map[string]requestlog.Event{}
	for len(got) < want {
		m, err := r.ReadMessage(ctx)
		require.NoError(t, err, "after %d of %d events", len(got), want)
		var ev requestlog.Event
		require.NoError(t, json.Unmarshal(m.Value, &ev))
		assert.Equal(t, ev.PartnerID, string(m.Key), "events are keyed by partner id")
		_, dup := got[ev.RequestID]
		assert.False(t, dup, "two events for request %q: %s", ev.RequestID, m.Value)
		got[ev.RequestID] = ev
	}
	return got
}

// scripted turns a decision-table row into the request Kong would present: Kong resolves
// the client address itself (trusted_ips), so a spoofed X-Forwarded-For is only a header,
// and caseHeaders also sends a forged X-Steller-Partner-Id the edge must overwrite.
func scripted(c edgetest.Case) *kongstandin.ScriptedRequest {
	return &kongstandin.ScriptedRequest{
		Method: c.Method, Path: c.Path, Headers: caseHeaders(c), Body: []byte(c.Body),
		ClientIP: c.ClientIP.String(), ForwardedIP: c.ClientIP.String(),
		Response: kongstandin.Response{Status: http.StatusOK, Size: 512},
	}
}

func TestDecisionTableThroughCompiledPluginInKongStandIn(t *testing.T) {
	t.Parallel()
	plugin, fx, kafka, events := standin(t)
	ctx := context.Background()

	edgeIDs := map[string]string{} // case name → the request id the edge minted
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
				assert.Regexp(t, edgeIDPattern, problem.RequestID)
				edgeIDs[c.Name] = problem.RequestID
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
			assert.Equal(t, c.Want.PartnerID, up.Get(identity.HeaderPartnerID))
			assert.Equal(t, edgetest.WorkspaceID, up.Get(identity.HeaderWorkspaceID))
			assert.Equal(t, string(c.Want.Environment), up.Get(identity.HeaderEnvironment))
			assert.Equal(t, edgetest.KeyID(c.Want.KeyName), up.Get(identity.HeaderKeyID))
			assert.Regexp(t, edgeIDPattern, up.Get(identity.HeaderRequestID))
			assert.Equal(t, c.Want.ClientRequestID, up.Get(identity.HeaderClientRequestID))
			// Signed at the plugin server's own clock, which is this machine's.
			signed := edgesign.FromHeaders(c.Method, c.Path, up)
			assert.NoError(t, edgetest.Verifier(nil).Verify(&signed, up.Get(identity.HeaderSignature)), "the upstream verifies the edge signature")
			edgeIDs[c.Name] = up.Get(identity.HeaderRequestID)
			// The key never reaches the upstream.
			for _, name := range []string{"Authorization", "X-Api-Key"} {
				assert.Contains(t, access.ClearedHeaders, name, "%s not stripped", name)
			}
			assert.LessOrEqual(t, total, 8, "PDK calls for an allowed request: %v %v", access.Calls, logPhase.Calls)
		})
	}

	// Every request, allowed or denied, reached Kafka as one request-log event.
	got := consumeEvents(t, kafka, events, len(fx.Cases()))
	for _, c := range fx.Cases() {
		ev, ok := got[edgeIDs[c.Name]]
		if assert.True(t, ok, "no event for %s (got %v)", c.Name, keysOf(got)) {
			assert.Equal(t, c.Want.ClientRequestID, ev.ClientRequestID, c.Name)
			assert.Equal(t, c.Method, ev.Method, c.Name)
			assert.Equal(t, c.Want.Status, ev.Status, c.Name)
			assert.Equal(t, c.Want.Code, ev.DenialCode, c.Name)
		}
	}
}

// BenchmarkPDKRoundTripsPerAllowedRequest runs access and log for an allowed request
// through the compiled plugin and reports the PDK round trips per request (target: 8 or
// fewer; a straightforward plugin makes about 12) next to the wall time of both phases.
func BenchmarkPDKRoundTripsPerAllowedRequest(b *testing.B) {
	plugin, fx, _, _ := standin(b)
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

func keysOf(m map[string]requestlog.Event) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v.DenialCode)
	}
	return out
}
