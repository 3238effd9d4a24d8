package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/server"
)

type running struct {
	srv  *server.Server
	stop context.CancelFunc
	done chan error
}

func setup(t *testing.T, cfg server.Config) running {
	t.Helper()
	cfg.Name, cfg.Addr, cfg.Logger = "test", "127.0.0.1:0", slog.New(slog.DiscardHandler)
	srv, err := server.New(cfg)
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	return running{srv: srv, stop: stop, done: done}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "app") })
	r := setup(t, server.Config{Handler: app, Checks: []server.Check{
		{Name: "db", Probe: func(context.Context) error { return nil }},
	}})

	code, body := get(t, r.srv.URL()+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"status":"ok","service":"test"}`, body)

	code, body = get(t, r.srv.URL()+"/readyz")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"status":"ready"`)

	code, body = get(t, r.srv.URL()+"/anything")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "app", body)

	code, body = get(t, r.srv.URL()+"/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `steller_http_requests_total{code="200",method="get",service="test"} 1`)
	assert.Contains(t, body, "go_goroutines")
}

// With an operations address, readiness (which names dependencies and their errors) and
// metrics are served there only; the public listener keeps liveness and the handler.
func TestOperationalEndpointsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "app: "+r.URL.Path)
	})
	r := setup(t, server.Config{Handler: app, OpsAddr: "127.0.0.1:0", Checks: []server.Check{
		{Name: "db", Probe: func(context.Context) error { return errors.New("db at 10.0.0.7:5432 refused") }},
	}})
	require.NotEqual(t, r.srv.URL(), r.srv.OpsURL())

	code, body := get(t, r.srv.URL()+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"status":"ok","service":"test"}`, body)
	for _, path := range []string{"/readyz", "/metrics"} {
		code, body = get(t, r.srv.URL()+path)
		assert.Equal(t, "app: "+path, body, "the public listener hands %s to the API, which has no such path", path)
		assert.Equal(t, http.StatusNotFound, code)
	}

	code, body = get(t, r.srv.OpsURL()+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "10.0.0.7:5432 refused")
	code, _ = get(t, r.srv.OpsURL()+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	code, body = get(t, r.srv.OpsURL()+"/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `steller_http_requests_total{code="404",method="get",service="test"} 2`, "the API's requests are counted")
	code, _ = get(t, r.srv.OpsURL()+"/v1/anything")
	assert.Equal(t, http.StatusNotFound, code, "the operations listener serves no API")

	// Both listeners stop with the context.
	r.stop()
	require.NoError(t, <-r.done)
	r.done <- nil // for the cleanup
	for _, url := range []string{r.srv.URL(), r.srv.OpsURL()} {
		_, err := http.Get(url + "/healthz")
		assert.Error(t, err, url)
	}
}

func TestReadinessNamesTheFailingDependency(t *testing.T) {
	t.Parallel()
	r := setup(t, server.Config{CheckTimeout: 50 * time.Millisecond, Checks: []server.Check{
		{Name: "postgres", Probe: func(context.Context) error { return nil }},
		{Name: "kafka", Probe: func(context.Context) error { return errors.New("connection refused") }},
		{Name: "clickhouse", Probe: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
	}})
	code, body := get(t, r.srv.URL()+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	var doc struct {
		Status string
		Checks []struct {
			Name  string
			OK    bool
			Error string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(body), &doc))
	assert.Equal(t, "not ready", doc.Status)
	require.Len(t, doc.Checks, 3)
	assert.True(t, doc.Checks[0].OK)
	assert.Equal(t, "connection refused", doc.Checks[1].Error)
	assert.Contains(t, doc.Checks[2].Error, "deadline exceeded")
}

func TestShutdownWaitsForRequestsInFlight(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	r := setup(t, server.Config{Handler: slow, ShutdownTimeout: 5 * time.Second})

	result := make(chan string, 1)
	go func() {
		resp, err := http.Get(r.srv.URL() + "/slow")
		if err != nil {
			result <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		result <- string(b)
	}()
	<-started
	r.stop()
	// New connections are refused once shutdown begins...
	require.Eventually(t, func() bool {
		_, err := http.Get(r.srv.URL() + "/healthz")
		return err != nil
	}, 2*time.Second, 10*time.Millisecond)
	// ...while the request in flight still completes.
	close(release)
	assert.Equal(t, "finished", <-result)
	assert.NoError(t, <-r.done)
	r.done <- nil // for the cleanup's receive
}

func TestNewReportsABusyPort(t *testing.T) {
	t.Parallel()
	r := setup(t, server.Config{})
	_, err := server.New(server.Config{Name: "second", Addr: r.srv.Addr(), Logger: slog.New(slog.DiscardHandler)})
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "address already in use"), err.Error())
}
