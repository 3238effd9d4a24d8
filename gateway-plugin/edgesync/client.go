package edgesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/steller/platform/contract/edgewire"

	"github.com/steller/platform/contract/keyformat"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// BaseURL is the control plane's base URL (required), e.g. http://control-plane:8080.
	BaseURL string
	// Token is the edge token sent as a bearer token (required).
	Token string
	// SnapshotPath is where the last good snapshot is kept on disk; empty disables it.
	SnapshotPath string
	// HTTPClient makes the requests; nil uses a client with no overall timeout (each
	// request gets its own deadline).
	HTTPClient *http.Client
	// Logger receives sync progress and failures (required).
	Logger *slog.Logger
	// Wait is the long-poll wait asked of the server; zero means DefaultWait.
	Wait time.Duration
	// MinBackoff and MaxBackoff bound the retry delay while the control plane is failing;
	// zero means 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
}

// Client keeps a key table current from the control plane. Lookups are lock-free and keep
// answering from the last good table while the control plane is unreachable.
type Client struct {
	cfg    ClientConfig
	base   *url.URL
	http   *http.Client
	log    *slog.Logger
	tables store
}

// errResync means the change feed answered 410: a new snapshot is needed.
var errResync = errors.New("edgesync: resync required")

// NewClient validates cfg and loads the last good snapshot from SnapshotPath, if there is
// one, so that the edge can serve before it first reaches the control plane.
func NewClient(cfg ClientConfig) (*Client, error) {
	var errs []error
	base, err := url.Parse(cfg.BaseURL)
	if cfg.BaseURL == "" || err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		errs = append(errs, fmt.Errorf("edgesync: BaseURL must be an http(s) URL, got %q", cfg.BaseURL))
	}
	if cfg.Token == "" {
		errs = append(errs, errors.New("edgesync: Token is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("edgesync: Logger is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Wait <= 0 {
		cfg.Wait = edgewire.DefaultWait
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	c := &Client{cfg: cfg, base: base, http: hc, log: cfg.Logger}
	if cfg.SnapshotPath != "" {
		s, err := readSnapshotFile(cfg.SnapshotPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			c.log.Info("edge sync: no snapshot on disk yet", "path", cfg.SnapshotPath)
		case err != nil:
			c.log.Warn("edge sync: ignoring unreadable snapshot on disk", "path", cfg.SnapshotPath, "err", err)
		default:
			t, err := NewTable(s)
			if err != nil {
				c.log.Warn("edge sync: snapshot on disk has unusable keys", "err", err)
			}
			c.tables.current.Store(t)
			c.log.Info("edge sync: loaded snapshot from disk", "version", t.Version(), "keys", t.Len())
		}
	}
	return c, nil
}

// Lookup finds a key in the current table.
func (c *Client) Lookup(h keyformat.Hash) (*Record, bool) { return c.tables.Lookup(h) }

// Table returns the current table, or nil when nothing has been loaded yet.
func (c *Client) Table() *Table { return c.tables.Table() }

// Ready reports whether the client has a table to serve from (from disk or the network).
func (c *Client) Ready() bool { return c.tables.Table() != nil }

// Run syncs until ctx is done: it fetches a snapshot (unless one came from disk), then
// long-polls the change feed,
// applying each batch and saving it to disk. On failure it backs off (with jitter) and keeps
// serving the last good table. It returns ctx's error.
func (c *Client) Run(ctx context.Context) error {
	// With a snapshot from disk, resume the change feed from its version: the server
	// answers 410 if that is too old (or from another history), and a snapshot follows.
	needSnapshot := c.tables.Table() == nil
	failures := 0
	for ctx.Err() == nil {
		var err error
		if needSnapshot {
			err = c.syncSnapshot(ctx)
			if err == nil {
				needSnapshot = false
			}
		} else {
			err = c.pollChanges(ctx)
			if errors.Is(err, errResync) {
				c.log.Info("edge sync: change feed asks for a resync")
				needSnapshot = true
				continue
			}
		}
		if err == nil {
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			break
		}
		failures++
		delay := c.backoff(failures)
		c.log.Warn("edge sync: control plane unavailable, serving last good state", "err", err, "retry_in", delay, "version", c.version())
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
	return ctx.Err()
}

func (c *Client) version() uint64 {
	if t := c.tables.Table(); t != nil {
		return t.Version()
	}
	return 0
}

// backoff doubles from MinBackoff to MaxBackoff and picks a delay in [d/2, d].
func (c *Client) backoff(failures int) time.Duration {
	d := c.cfg.MinBackoff
	for i := 1; i < failures && d < c.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.cfg.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

func (c *Client) syncSnapshot(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var s edgewire.Snapshot
	if err := c.get(ctx, edgewire.SnapshotPath, nil, &s); err != nil {
		return err
	}
	t, err := NewTable(s)
	if err != nil {
		c.log.Warn("edge sync: snapshot has unusable keys", "err", err)
	}
	c.tables.current.Store(t)
	c.log.Info("edge sync: snapshot loaded", "version", t.Version(), "keys", t.Len())
	c.save(t)
	return nil
}

func (c *Client) pollChanges(ctx context.Context) error {
	cur := c.tables.Table()
	// The server holds the request for up to Wait; allow it a margin before giving up.
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Wait+15*time.Second)
	defer cancel()
	q := url.Values{"since": {strconv.FormatUint(cur.Version(), 10)}, "wait": {c.cfg.Wait.String()}}
	var ch edgewire.Changes
	if err := c.get(ctx, edgewire.ChangesPath, q, &ch); err != nil {
		return err
	}
	if len(ch.Changes) == 0 {
		return nil
	}
	next, err := cur.Apply(ch.Changes)
	if err != nil {
		c.log.Warn("edge sync: some changes could not be applied", "err", err)
	}
	c.tables.current.Store(next)
	c.log.Debug("edge sync: changes applied", "count", len(ch.Changes), "version", next.Version())
	c.save(next)
	return nil
}

// save writes t to disk; a failure is logged, never fatal (memory still serves).
func (c *Client) save(t *Table) {
	if c.cfg.SnapshotPath == "" {
		return
	}
	if err := writeSnapshotFile(c.cfg.SnapshotPath, t.Snapshot()); err != nil {
		c.log.Error("edge sync: could not save snapshot", "err", err)
	}
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	u := c.base.JoinPath(path)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusGone:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return errResync
	case resp.StatusCode != http.StatusOK:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("edgesync: GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("edgesync: GET %s: decode: %w", path, err)
	}
	return nil
}
