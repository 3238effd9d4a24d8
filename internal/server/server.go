// Package server owns what every Steller HTTP service shares: the listener, the operational
// endpoints (/healthz for liveness, /readyz for readiness checks, /metrics for Prometheus),
// request metrics, and graceful shutdown when the context ends. A public service puts
// /readyz (whose answer names dependencies and their errors) and /metrics on a second,
// operations-only listener (Config.OpsAddr) and keeps only /healthz beside its API.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness probe, such as a ping of a database the service needs.
type Check struct {
	// Name identifies the dependency in the /readyz answer.
	Name string
	// Probe returns nil when the dependency is usable.
	Probe func(ctx context.Context) error
}

// Config describes one HTTP service.
type Config struct {
	// Name labels the service in logs and metrics.
	Name string
	// Addr is the listen address, host:port (port 0 picks a free one).
	Addr string
	// OpsAddr, when set, is a second listen address that alone serves /readyz and /metrics
	// (and /healthz); Addr then serves only /healthz and Handler. Set it for services that
	// face the public, whose readiness errors and metrics are for operators only.
	OpsAddr string
	// Handler serves everything but the operational endpoints; nil serves 404s.
	Handler http.Handler
	// Checks run on every /readyz request.
	Checks []Check
	// Registry receives the HTTP metrics and is served at /metrics; nil creates one.
	Registry *prometheus.Registry
	// Logger receives lifecycle logs.
	Logger *slog.Logger
	// ShutdownTimeout bounds graceful shutdown; zero means 15 s.
	ShutdownTimeout time.Duration
	// CheckTimeout bounds each readiness probe; zero means 2 s.
	CheckTimeout time.Duration
	// OnShutdown runs when shutdown begins, to end long-lived requests (long-polls) that
	// would otherwise hold it up; nil means none.
	OnShutdown func()
}

// Server is a listening HTTP service with operational endpoints.
type Server struct {
	cfg      Config
	listener net.Listener
	http     *http.Server
	// opsListener and opsHTTP serve the operational endpoints when Config.OpsAddr is set.
	opsListener net.Listener
	opsHTTP     *http.Server
}

// NewRegistry returns a Prometheus registry with the Go runtime and process collectors,
// the base of every service's /metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// New binds the listener, so Addr is known (and a busy port reported) before Run.
func New(cfg Config) (*Server, error) {
	if cfg.Name == "" {
		return nil, errors.New("server: Name is required")
	}
	if cfg.Logger == nil {
		return nil, errors.New("server: Logger is required")
	}
	if cfg.Registry == nil {
		cfg.Registry = NewRegistry()
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 15 * time.Second
	}
	if cfg.CheckTimeout == 0 {
		cfg.CheckTimeout = 2 * time.Second
	}
	if cfg.Handler == nil {
		cfg.Handler = http.NotFoundHandler()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("server %s: listen on %s: %w", cfg.Name, cfg.Addr, err)
	}
	s := &Server{cfg: cfg, listener: ln}
	public, ops := s.routes()
	s.http = s.newHTTP(public)
	if cfg.OnShutdown != nil {
		s.http.RegisterOnShutdown(cfg.OnShutdown)
	}
	if cfg.OpsAddr != "" {
		if s.opsListener, err = net.Listen("tcp", cfg.OpsAddr); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("server %s: listen on %s (operations): %w", cfg.Name, cfg.OpsAddr, err)
		}
		s.opsHTTP = s.newHTTP(ops)
	}
	return s, nil
}

func (s *Server) newHTTP(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Logger is the server's logger.
func (s *Server) Logger() *slog.Logger { return s.cfg.Logger }

// URL is the base http:// URL of the server.
func (s *Server) URL() string { return "http://" + s.Addr() }

// OpsURL is the base http:// URL of the operational endpoints: the OpsAddr listener's, or
// URL when there is none.
func (s *Server) OpsURL() string {
	if s.opsListener == nil {
		return s.URL()
	}
	return "http://" + s.opsListener.Addr().String()
}

// Run serves until ctx ends, then shuts down gracefully within ShutdownTimeout.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { errc <- s.http.Serve(s.listener) }()
	if s.opsHTTP != nil {
		go func() { errc <- s.opsHTTP.Serve(s.opsListener) }()
		s.cfg.Logger.Info("listening", "service", s.cfg.Name, "url", s.URL(), "ops_url", s.OpsURL())
	} else {
		s.cfg.Logger.Info("listening", "service", s.cfg.Name, "url", s.URL())
	}
	select {
	case err := <-errc:
		s.close()
		return fmt.Errorf("server %s: %w", s.cfg.Name, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	s.cfg.Logger.Info("shutting down", "service", s.cfg.Name)
	// The operations listener answers until the API has drained, so a probe sees the
	// shutdown through; then it goes too.
	err := s.http.Shutdown(shutdownCtx)
	if s.opsHTTP != nil {
		err = errors.Join(err, s.opsHTTP.Shutdown(shutdownCtx))
	}
	if err != nil {
		return fmt.Errorf("server %s: shutdown: %w", s.cfg.Name, err)
	}
	return nil
}

// close stops both listeners at once (after one failed to serve).
func (s *Server) close() {
	_ = s.http.Close()
	if s.opsHTTP != nil {
		_ = s.opsHTTP.Close()
	}
}

// routes returns the public handler and, when OpsAddr is set, the operations handler.
func (s *Server) routes() (public, ops http.Handler) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "steller_http_requests_total", Help: "HTTP requests served, by service, method and status code.",
	}, []string{"service", "method", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "steller_http_request_duration_seconds", Help: "HTTP request latency, by service and method.",
		Buckets: prometheus.DefBuckets,
	}, []string{"service", "method"})
	s.cfg.Registry.MustRegister(requests, duration)
	labels := prometheus.Labels{"service": s.cfg.Name}

	health := func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "service": s.cfg.Name})
	}
	opsMux := http.NewServeMux()
	opsMux.HandleFunc("GET /healthz", health)
	opsMux.HandleFunc("GET /readyz", s.ready)
	opsMux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{Registry: s.cfg.Registry}))

	mux := opsMux // one listener: the operational endpoints beside the handler
	if s.cfg.OpsAddr != "" {
		mux = http.NewServeMux()
		mux.HandleFunc("GET /healthz", health) // liveness for load balancers; no dependency detail
	}
	mux.Handle("/", promhttp.InstrumentHandlerCounter(requests.MustCurryWith(labels),
		promhttp.InstrumentHandlerDuration(duration.MustCurryWith(labels), s.cfg.Handler)))
	if s.cfg.OpsAddr != "" {
		return mux, opsMux
	}
	return mux, nil
}

// ready runs every check concurrently and answers 503 if any fails, naming each result.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	type result struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
		Took  string `json:"took"`
	}
	results := make([]result, len(s.cfg.Checks))
	var wg sync.WaitGroup
	for i, c := range s.cfg.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), s.cfg.CheckTimeout)
			defer cancel()
			start := time.Now()
			err := c.Probe(ctx)
			results[i] = result{Name: c.Name, OK: err == nil, Took: time.Since(start).Round(time.Microsecond).String()}
			if err != nil {
				results[i].Error = err.Error()
			}
		}()
	}
	wg.Wait()
	status, word := http.StatusOK, "ready"
	for _, res := range results {
		if !res.OK {
			status, word = http.StatusServiceUnavailable, "not ready"
		}
	}
	writeJSON(w, status, map[string]any{"status": word, "service": s.cfg.Name, "checks": results})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
