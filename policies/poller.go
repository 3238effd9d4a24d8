package policies

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Poller defaults, used when the PollerConfig field is zero.
const (
	DefaultPollInterval   = 10 * time.Second
	DefaultPollTimeout    = 30 * time.Second
	DefaultMaxBundleBytes = 8 << 20
)

// PollerConfig holds the Poller's dependencies and settings.
type PollerConfig struct {
	// Engine receives the bundles. Required.
	Engine *Engine
	// URL is the bundle's address (the control plane serves it). Required, http or https.
	URL string
	// Token, when set, is sent as "Authorization: Bearer <token>".
	Token string
	// Logger receives poll failures. Required.
	Logger *slog.Logger
	// Clock stamps poll outcomes; time.Now when nil.
	Clock func() time.Time
	// Interval between polls; DefaultPollInterval when zero.
	Interval time.Duration
	// Timeout bounds one poll (request, download and validation); DefaultPollTimeout
	// when zero.
	Timeout time.Duration
	// MaxBytes caps the bundle's compressed size; DefaultMaxBundleBytes when zero.
	MaxBytes int64
	// Client is the HTTP client; a client with its own transport when nil. Its Timeout,
	// if any, applies on top of Timeout.
	Client *http.Client
}

// Poller hot-reloads the engine's policy bundle from a URL. Each poll sends the active
// bundle's ETag as If-None-Match: 304 keeps it, 200 loads the body through
// Engine.LoadBundle. Any failure (network, status, size, a bundle that does not
// validate) is logged and counted, and the last good bundle stays active.
type Poller struct {
	cfg   PollerConfig
	clock func() time.Time
	// pollMu serializes polls from Run and from Poll.
	pollMu sync.Mutex

	polls       atomic.Uint64
	loaded      atomic.Uint64
	notModified atomic.Uint64
	failures    atomic.Uint64
	lastOK      atomic.Pointer[time.Time]
	lastErr     atomic.Pointer[string]
}

// PollerStats are the poller's counters and last outcomes.
type PollerStats struct {
	// Polls counts completed polls, successful or not.
	Polls uint64
	// Loaded counts polls that activated a new bundle (200).
	Loaded uint64
	// NotModified counts polls answered 304.
	NotModified uint64
	// Failures counts polls that failed; the last good bundle stayed active.
	Failures uint64
	// LastSuccess is when a poll last succeeded (zero if never).
	LastSuccess time.Time
	// LastError is the most recent failure's message, cleared by a success.
	LastError string
}

// NewPoller validates cfg and returns a Poller; call Run to start polling.
func NewPoller(cfg PollerConfig) (*Poller, error) {
	var errs []error
	if cfg.Engine == nil {
		errs = append(errs, errors.New("policies: PollerConfig.Engine is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("policies: PollerConfig.Logger is required"))
	}
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("URL %q is not an absolute http(s) URL", cfg.URL))
	}
	if cfg.Interval < 0 || cfg.Timeout < 0 || cfg.MaxBytes < 0 {
		errs = append(errs, errors.New("policies: PollerConfig Interval, Timeout and MaxBytes cannot be negative"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("policies: poller config: %w", errors.Join(errs...))
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultPollInterval
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultPollTimeout
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBundleBytes
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: cfg.Timeout,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   1,
		}}
	}
	p := &Poller{cfg: cfg, clock: cfg.Clock}
	if p.clock == nil {
		p.clock = time.Now
	}
	return p, nil
}

// Run polls once at once and then every Interval until ctx is done; it returns ctx's
// error. Failures never stop it.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		_ = p.Poll(ctx) // logged and counted by Poll
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Poll performs one poll now and returns its outcome: nil for 304 or an activated bundle.
// Tests use it to drive the poller step by step; Run calls it on every tick.
func (p *Poller) Poll(ctx context.Context) error {
	p.pollMu.Lock()
	defer p.pollMu.Unlock()
	err := p.poll(ctx)
	p.polls.Add(1)
	if err != nil {
		p.failures.Add(1)
		msg := err.Error()
		p.lastErr.Store(&msg)
		p.cfg.Logger.Error("policy bundle poll failed; keeping the active bundle",
			"url", p.cfg.URL, "revision", p.cfg.Engine.Revision(), "error", err)
		return err
	}
	now := p.clock()
	p.lastOK.Store(&now)
	p.lastErr.Store(nil)
	return nil
}

func (p *Poller) poll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/gzip")
	if etag := p.cfg.Engine.ETag(); etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if p.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.cfg.Token)
	}
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch bundle: %w", err)
	}
	defer func() {
		// Drain a little so the connection can be reused, then close.
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		_ = resp.Body.Close()
	}()

	switch resp.StatusCode {
	case http.StatusNotModified:
		p.notModified.Add(1)
		return nil
	case http.StatusOK:
	default:
		return fmt.Errorf("fetch bundle: unexpected status %s", resp.Status)
	}
	if resp.ContentLength > p.cfg.MaxBytes {
		return fmt.Errorf("bundle of %d bytes exceeds the %d byte limit", resp.ContentLength, p.cfg.MaxBytes)
	}
	body := &capReader{r: http.MaxBytesReader(nil, resp.Body, p.cfg.MaxBytes)}
	info, err := p.cfg.Engine.load(ctx, body, resp.Header.Get("ETag"))
	if body.exceeded {
		return fmt.Errorf("bundle exceeds the %d byte limit", p.cfg.MaxBytes)
	}
	if err != nil {
		return err
	}
	p.loaded.Add(1)
	p.cfg.Logger.Info("policy bundle reloaded", "url", p.cfg.URL, "revision", info.Revision, "etag", info.ETag)
	return nil
}

// Stats returns the poller's counters and last outcomes.
func (p *Poller) Stats() PollerStats {
	s := PollerStats{
		Polls:       p.polls.Load(),
		Loaded:      p.loaded.Load(),
		NotModified: p.notModified.Load(),
		Failures:    p.failures.Load(),
	}
	if t := p.lastOK.Load(); t != nil {
		s.LastSuccess = *t
	}
	if e := p.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}

// capReader passes reads through http.MaxBytesReader and remembers whether the cap was
// hit, since the bundle reader may not keep the error's type when it wraps it.
type capReader struct {
	r        io.Reader
	exceeded bool
}

func (c *capReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		c.exceeded = true
	}
	return n, err
}
