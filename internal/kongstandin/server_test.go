package kongstandin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/kongstandin"
)

func methods(calls []kongstandin.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.Method
	}
	return out
}

func allowedRequest() *kongstandin.ScriptedRequest {
	return &kongstandin.ScriptedRequest{
		Method: http.MethodGet,
		Path:   "/v1/catalog",
		Headers: http.Header{
			"X-Api-Key":     {"sk_test_abc"},
			"Authorization": {"Bearer sk_test_abc"},
		},
		ClientIP:    "10.1.2.3",
		ForwardedIP: "203.0.113.7",
	}
}

func TestStartDumpsInfo(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)

	info := srv.Info()
	assert.Equal(t, "echo", info.Name)
	assert.Equal(t, "0.1.0", info.Version)
	assert.Equal(t, 1000, info.Priority)
	assert.Equal(t, []string{"access", "log"}, info.Phases)
	assert.Equal(t, "ProtoBuf:1", info.Protocol)
	assert.True(t, strings.HasSuffix(srv.SocketPath(), "/echo.socket"), srv.SocketPath())
	assert.NotZero(t, srv.Pid())
	assert.True(t, srv.Alive())
}

func TestAccessAllowsAndRewritesUpstreamRequest(t *testing.T) {
	t.Parallel()
	srv, ctx := setup(t)
	id, err := srv.StartInstance(ctx, "echo", []byte(`{"instance":"a","upstream_host":"10.0.0.5","upstream_port":8081}`))
	require.NoError(t, err)

	res, err := srv.RunPhase(ctx, id, "access", allowedRequest())
	require.NoError(t, err)

	assert.Nil(t, res.Exit)
	assert.Equal(t, []string{
		"kong.request.get_header",
		"kong.client.get_forwarded_ip",
		"kong.request.get_method",
		"kong.request.get_path",
		"kong.service.request.set_header",
		"kong.service.request.set_header",
		"kong.service.request.clear_header",
		"kong.service.set_target",
		"kong.ctx.shared.set",
		"kong.log.info",
	}, methods(res.Calls))
	assert.Equal(t, 10, res.CallCount)
	assert.Equal(t, 2, res.Count("kong.service.request.set_header"))
	assert.Equal(t, []any{"x-api-key"}, res.Calls[0].Args)
	assert.Equal(t, "a", res.UpstreamHeaders.Get("X-Echo-Instance"))
	assert.Equal(t, "GET /v1/catalog from 203.0.113.7", res.UpstreamHeaders.Get("X-Echo-Seen"))
	assert.Equal(t, []string{"X-Api-Key"}, res.ClearedHeaders)
	assert.Equal(t, &kongstandin.Target{Host: "10.0.0.5", Port: 8081}, res.Target)
	assert.Equal(t, "a", res.Shared["echo.instance"])
	require.Len(t, res.Logs, 1)
	assert.Equal(t, kongstandin.LogEntry{Level: "info", Args: []any{"echo access ", "a"}}, res.Logs[0])
	assert.Equal(t, id, res.InstanceID)
}

func TestAccessExitsWith403AndLogPhaseSeesTheExit(t *testing.T) {
	t.Parallel()
	srv, ctx := setup(t)
	id, err := srv.StartInstance(ctx, "echo", []byte(`{"instance":"deny"}`))
	require.NoError(t, err)
	req := &kongstandin.ScriptedRequest{Method: http.MethodPost, Path: "/v1/orders", ClientIP: "198.51.100.9"}

	res, err := srv.RunPhase(ctx, id, "access", req)
	require.NoError(t, err)
	require.NotNil(t, res.Exit)
	assert.Equal(t, http.StatusForbidden, res.Exit.Status)
	assert.Equal(t, "application/problem+json", res.Exit.Headers.Get("Content-Type"))
	var body map[string]string
	require.NoError(t, json.Unmarshal(res.Exit.Body, &body))
	assert.Equal(t, map[string]string{"code": "missing_key", "instance": "deny"}, body)
	assert.Equal(t, []string{"kong.request.get_header", "kong.response.exit"}, methods(res.Calls))
	assert.Empty(t, res.UpstreamHeaders)

	// Kong runs the log phase after an exit too; the plugin sees the exit's status.
	logRes, err := srv.RunPhase(ctx, id, "log", req)
	require.NoError(t, err)
	require.Len(t, logRes.Logs, 1)
	assert.Equal(t, []any{"deny", "", float64(403), "198.51.100.9", "exit", "<nil>"}, logRes.Logs[0].Args)
}

func TestLogPhaseSeesSharedValuesResponseAndRedactedHeaders(t *testing.T) {
	t.Parallel()
	srv, ctx := setup(t)
	id, err := srv.StartInstance(ctx, "echo", []byte(`{"instance":"a"}`))
	require.NoError(t, err)
	req := allowedRequest()
	req.Response = kongstandin.Response{Status: http.StatusCreated, Headers: http.Header{"Content-Type": {"application/json"}}, Size: 120}
	req.Latencies = kongstandin.Latencies{Kong: 2 * time.Millisecond, Proxy: 30 * time.Millisecond, Request: 33 * time.Millisecond}

	access, err := srv.RunPhase(ctx, id, "access", req)
	require.NoError(t, err)
	logRes, err := srv.RunPhase(ctx, id, "log", req)
	require.NoError(t, err)

	assert.Equal(t, []string{
		"kong.log.serialize",
		"kong.ctx.shared.get",
		"kong.response.get_status",
		"kong.log.notice",
	}, methods(logRes.Calls))
	require.Len(t, logRes.Logs, 1)
	assert.Equal(t, []any{"a", "a", float64(201), "203.0.113.7", "service", "REDACTED"}, logRes.Logs[0].Args)
	assert.Equal(t, 9, access.CallCount, "no set_target without an upstream_host")
	assert.Equal(t, 13, access.CallCount+logRes.CallCount, "PDK round trips of one allowed request")
}

func TestPhaseRulesAndUnknownMethodsFailLoudly(t *testing.T) {
	t.Parallel()
	srv, ctx := setup(t)
	tests := []struct {
		name    string
		config  string
		phase   string
		wantErr string
	}{
		{"method the stand-in does not answer", `{"call_unknown":true}`, "access", `"kong.client.get_consumer"`},
		{"request method in the log timer", `{"log_reads_path":true}`, "log", `"kong.request.get_path" in the log phase`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := srv.StartInstance(ctx, "echo", []byte(tt.config))
			require.NoError(t, err)
			res, err := srv.RunPhase(ctx, id, tt.phase, allowedRequest())
			require.ErrorIs(t, err, kongstandin.ErrUnknownMethod)
			assert.Contains(t, err.Error(), tt.wantErr)
			require.NotNil(t, res)
			assert.NotZero(t, res.CallCount)
		})
	}
	// The server survives a failed event and keeps serving.
	id, err := srv.StartInstance(ctx, "echo", []byte(`{"instance":"after"}`))
	require.NoError(t, err)
	res, err := srv.RunPhase(ctx, id, "access", allowedRequest())
	require.NoError(t, err)
	assert.Equal(t, "after", res.UpstreamHeaders.Get("X-Echo-Instance"))
}

func TestPhaseThePluginDoesNotHandleIsRefused(t *testing.T) {
	t.Parallel()
	srv, ctx := setup(t)
	id, err := srv.StartInstance(ctx, "echo", []byte(`{}`))
	require.NoError(t, err)
	_, err = srv.RunPhase(ctx, id, "rewrite", allowedRequest())
	require.ErrorContains(t, err, `does not handle phase "rewrite"`)
}

func TestInstancesWithDifferentConfigsDoNotMix(t *testing.T) {
	t.Parallel()
	srv, ctx := setup(t)
	ids := map[string]kongstandin.InstanceID{}
	for _, name := range []string{"a", "b", "c"} {
		id, err := srv.StartInstance(ctx, "echo", []byte(fmt.Sprintf(`{"instance":%q}`, name)))
		require.NoError(t, err)
		ids[name] = id
	}
	assert.Len(t, map[kongstandin.InstanceID]bool{ids["a"]: true, ids["b"]: true, ids["c"]: true}, 3)

	var wg sync.WaitGroup
	errs := make(chan error, 90)
	for i := range 30 {
		for name, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := srv.RunPhase(ctx, id, "access", allowedRequest())
				if err != nil {
					errs <- err
					return
				}
				if got := res.UpstreamHeaders.Get("X-Echo-Instance"); got != name {
					errs <- fmt.Errorf("request %d on instance %s ran config %q", i, name, got)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st, err := srv.InstanceStatus(ctx, ids["b"])
	require.NoError(t, err)
	assert.Equal(t, ids["b"], st.ID)
}

func TestCloseInstanceThenRunIsClosed(t *testing.T) {
	t.Parallel()
	srv, ctx := setup(t)
	id, err := srv.StartInstance(ctx, "echo", []byte(`{"instance":"gone"}`))
	require.NoError(t, err)
	require.NoError(t, srv.CloseInstance(ctx, id))
	_, err = srv.RunPhase(ctx, id, "access", allowedRequest())
	require.ErrorIs(t, err, kongstandin.ErrClosed)
	assert.Contains(t, err.Error(), "no plugin instance")
}

func TestPluginStartsItsInstanceAgainAfterRestart(t *testing.T) {
	t.Parallel()
	srv, ctx := setup(t)
	a, err := srv.NewPlugin("echo", []byte(`{"instance":"a"}`))
	require.NoError(t, err)
	b, err := srv.NewPlugin("echo", []byte(`{"instance":"b"}`))
	require.NoError(t, err)
	for _, p := range []*kongstandin.Plugin{a, b} {
		_, err := p.RunPhase(ctx, "access", allowedRequest())
		require.NoError(t, err)
	}
	idA, pid := a.InstanceID(), srv.Pid()

	require.NoError(t, srv.Restart(ctx))
	assert.NotEqual(t, pid, srv.Pid())

	// The raw instance id is gone with the old process.
	_, err = srv.RunPhase(ctx, idA, "access", allowedRequest())
	require.ErrorIs(t, err, kongstandin.ErrClosed)

	// Kong starts the instance again with the same config and __seq__; each plugin entity
	// keeps its own config.
	for name, p := range map[string]*kongstandin.Plugin{"a": a, "b": b} {
		res, err := p.RunPhase(ctx, "access", allowedRequest())
		require.NoError(t, err)
		assert.Equal(t, name, res.UpstreamHeaders.Get("X-Echo-Instance"))
	}
	assert.Equal(t, idA, a.InstanceID(), "same __seq__, same instance id")
}

func TestPanicInAPhase(t *testing.T) {
	t.Parallel()
	panicky := allowedRequest()
	panicky.Headers.Set("X-Panic", "1")

	t.Run("go-pdk does not recover: the server dies", func(t *testing.T) {
		t.Parallel()
		srv, ctx := setup(t)
		id, err := srv.StartInstance(ctx, "echo", []byte(`{"panic_on":"X-Panic"}`))
		require.NoError(t, err)
		_, err = srv.RunPhase(ctx, id, "access", panicky)
		require.ErrorIs(t, err, kongstandin.ErrClosed)
		require.Eventually(t, func() bool { return !srv.Alive() }, 5*time.Second, 10*time.Millisecond)
		assert.Error(t, srv.ExitError())
		assert.Contains(t, strings.Join(srv.Output(), "\n"), "panic: echo plugin: asked to panic")
	})
	t.Run("a plugin that recovers keeps the server up", func(t *testing.T) {
		t.Parallel()
		srv, ctx := setup(t)
		id, err := srv.StartInstance(ctx, "echo", []byte(`{"panic_on":"X-Panic","recover":true,"instance":"r"}`))
		require.NoError(t, err)
		res, err := srv.RunPhase(ctx, id, "access", panicky)
		require.NoError(t, err)
		require.NotNil(t, res.Exit)
		assert.Equal(t, http.StatusInternalServerError, res.Exit.Status)
		assert.True(t, srv.Alive())
		res, err = srv.RunPhase(ctx, id, "access", allowedRequest())
		require.NoError(t, err)
		assert.Equal(t, "r", res.UpstreamHeaders.Get("X-Echo-Instance"))
	})
}

func TestCloseLeavesNoProcess(t *testing.T) {
	t.Parallel()
	srv, err := kongstandin.Start(context.Background(), kongstandin.Config{
		Binary: echoBinary,
		Prefix: shortPrefix(t),
		Logger: testLogger(t),
	})
	require.NoError(t, err)
	pid, socket := srv.Pid(), srv.SocketPath()
	require.NoError(t, syscall.Kill(pid, 0), "running before Close")

	require.NoError(t, srv.Close())
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "process %d still exists", pid)
	_, err = os.Stat(socket)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.False(t, srv.Alive())
	require.NoError(t, srv.Close(), "Close twice")
}

func TestStartRejectsBadConfig(t *testing.T) {
	t.Parallel()
	notPlugin := filepath.Join(t.TempDir(), "true")
	require.NoError(t, os.WriteFile(notPlugin, []byte("#!/bin/sh\necho not json\n"), 0o755))
	long := strings.Repeat("p", 120)
	tests := []struct {
		name    string
		cfg     kongstandin.Config
		wantErr string
	}{
		{"no binary", kongstandin.Config{Prefix: "/tmp", Logger: testLogger(t)}, "Binary is required"},
		{"no prefix", kongstandin.Config{Binary: echoBinary, Logger: testLogger(t)}, "Prefix is required"},
		{"no logger", kongstandin.Config{Binary: echoBinary, Prefix: "/tmp"}, "Logger is required"},
		{"not a plugin", kongstandin.Config{Binary: notPlugin, Prefix: "/tmp", Logger: testLogger(t)}, "parse dump"},
		{"socket path too long", kongstandin.Config{Binary: echoBinary, Prefix: "/tmp/" + long, Logger: testLogger(t)}, "over the 107"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := kongstandin.Start(context.Background(), tt.cfg)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestRunPhaseHonoursContext(t *testing.T) {
	t.Parallel()
	srv, ctx := setup(t)
	id, err := srv.StartInstance(ctx, "echo", []byte(`{}`))
	require.NoError(t, err)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = srv.RunPhase(cancelled, id, "access", allowedRequest())
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestPluginReplaceStartsTheNewConfigThenClosesTheOld(t *testing.T) {
	t.Parallel()
	srv, ctx := setup(t)
	p, err := srv.NewPlugin("echo", []byte(`{"instance":"v1"}`))
	require.NoError(t, err)
	res, err := p.RunPhase(ctx, "access", allowedRequest())
	require.NoError(t, err)
	require.Equal(t, "v1", res.UpstreamHeaders.Get("X-Echo-Instance"))
	oldID := p.InstanceID()
	var before map[string]any
	require.NoError(t, json.Unmarshal(p.Config(), &before))

	require.NoError(t, p.Replace(ctx, []byte(`{"instance":"v2"}`)))
	var after map[string]any
	require.NoError(t, json.Unmarshal(p.Config(), &after))
	assert.Equal(t, before["__plugin_id"], after["__plugin_id"], "the same plugin entity")
	assert.Equal(t, before["__key__"], after["__key__"])
	assert.NotEqual(t, before["__seq__"], after["__seq__"], "a new config version")
	assert.NotEqual(t, oldID, p.InstanceID())

	res, err = p.RunPhase(ctx, "access", allowedRequest())
	require.NoError(t, err)
	assert.Equal(t, "v2", res.UpstreamHeaders.Get("X-Echo-Instance"))
	_, err = srv.RunPhase(ctx, oldID, "access", allowedRequest())
	require.ErrorIs(t, err, kongstandin.ErrClosed, "the old instance is closed")
	assert.Contains(t, err.Error(), "no plugin instance")
}
