package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/control-plane/edgeauth"
	"github.com/steller/platform/policies"
)

// BundlePath is where edges fetch the active policy bundle (policies.Poller's URL); mount
// the BundleServer there.
const BundlePath = "/internal/edge/v1/policy-bundle"

// DefaultRefreshInterval is how often a running BundleServer re-reads the active version
// when Config.RefreshInterval is zero: a safety net behind LISTEN/NOTIFY.
const DefaultRefreshInterval = 5 * time.Second

// BundleServerConfig holds the BundleServer's dependencies.
type BundleServerConfig struct {
	// Pool is the control plane's database. Required.
	Pool *pgxpool.Pool
	// Logger receives refreshes and listen failures. Required.
	Logger *slog.Logger
	// EdgeToken is the bearer token edges present. Required.
	EdgeToken string
	// MoreEdgeTokens are also accepted, so the token can be rotated without downtime.
	MoreEdgeTokens []string
	// RefreshInterval is how often Run re-reads the active version besides NOTIFY;
	// DefaultRefreshInterval when zero.
	RefreshInterval time.Duration
}

// served is one bundle ready to serve; immutable once built.
type served struct {
	versionID int64 // 0 for the embedded default
	digest    string
	revision  string
	etag      string // quoted, as sent in the ETag header
	body      []byte
}

// BundleServer serves the active policy version to edges as an OPA bundle (tar.gz) with
// an ETag, answering 304 to a matching If-None-Match. When no version was ever activated
// it serves the embedded default policy, so a fresh install works. The active bundle is
// cached in memory and refreshed by Refresh (the Service's OnActivate hook), by Run on
// every NOTIFY on NotifyChannel (other replicas' activations) and every RefreshInterval.
type BundleServer struct {
	store    *store
	log      *slog.Logger
	tokens   edgeauth.Tokens
	interval time.Duration
	def      *served

	cur       atomic.Pointer[served]
	refreshMu sync.Mutex
}

// NewBundleServer checks cfg and builds the embedded default bundle.
func NewBundleServer(cfg BundleServerConfig) (*BundleServer, error) {
	var errs []error
	if cfg.Pool == nil {
		errs = append(errs, errors.New("policy: Pool is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("policy: Logger is required"))
	}
	tokens, err := edgeauth.New(append([]string{cfg.EdgeToken}, cfg.MoreEdgeTokens...)...)
	if err != nil {
		errs = append(errs, fmt.Errorf("policy: EdgeToken: %w", err))
	}
	if cfg.RefreshInterval < 0 {
		errs = append(errs, errors.New("RefreshInterval cannot be negative"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("policy: bundle server config: %w", errors.Join(errs...))
	}
	var buf bytes.Buffer
	if err := policies.WriteDefaultBundle(&buf, ""); err != nil {
		return nil, fmt.Errorf("policy: default bundle: %w", err)
	}
	rev := policies.DefaultRevision()
	b := &BundleServer{
		store:    &store{pool: cfg.Pool},
		log:      cfg.Logger,
		tokens:   tokens,
		interval: cfg.RefreshInterval,
		// The default's ETag is its revision, a digest of its sources: the same on every
		// replica and build with the same policy.
		def: &served{revision: rev, etag: quote(rev), body: buf.Bytes()},
	}
	if b.interval == 0 {
		b.interval = DefaultRefreshInterval
	}
	return b, nil
}

// Refresh re-reads the active version and caches its bundle when it changed.
func (b *BundleServer) Refresh(ctx context.Context) error {
	b.refreshMu.Lock()
	defer b.refreshMu.Unlock()
	id, digest, ok, err := b.store.activeDigest(ctx)
	if err != nil {
		return fmt.Errorf("policy: read active version: %w", err)
	}
	if !ok {
		b.cur.Store(b.def)
		return nil
	}
	if c := b.cur.Load(); c != nil && c.versionID == id && c.digest == digest {
		return nil
	}
	raw, err := b.store.bundle(ctx, id)
	if err != nil {
		return fmt.Errorf("policy: read bundle of version %d: %w", id, err)
	}
	next := &served{versionID: id, digest: digest, revision: revision(id), etag: quote(digest), body: raw}
	b.cur.Store(next)
	b.log.Info("serving policy version", "version", id, "etag", next.etag)
	return nil
}

// Run keeps the cache fresh until ctx is done: it LISTENs on NotifyChannel (reconnecting
// with backoff) and refreshes on each notification, and refreshes every RefreshInterval
// in case a notification was missed. It returns ctx's error.
func (b *BundleServer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(b.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := b.Refresh(ctx); err != nil && ctx.Err() == nil {
					b.log.Warn("policy bundle refresh failed; serving the cached bundle", "error", err)
				}
			}
		}
	}()
	backoff := 100 * time.Millisecond
	for {
		err := b.listen(ctx)
		if ctx.Err() != nil {
			wg.Wait()
			return ctx.Err()
		}
		b.log.Warn("policy activation listener failed; reconnecting", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// listen holds one connection out of the pool (LISTEN state must not leak back into it)
// and refreshes on every notification until the connection or ctx fails.
func (b *BundleServer) listen(ctx context.Context) error {
	pc, err := b.store.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		return err
	}
	// Refresh once listening, so an activation committed before LISTEN is not missed.
	if err := b.Refresh(ctx); err != nil {
		b.log.Warn("policy bundle refresh failed; serving the cached bundle", "error", err)
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		if err := b.Refresh(ctx); err != nil {
			b.log.Warn("policy bundle refresh failed; serving the cached bundle", "error", err)
		}
	}
}

// ServeHTTP serves GET and HEAD of the active bundle to an edge with the edge token.
func (b *BundleServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeProblem(w, http.StatusMethodNotAllowed, "only GET and HEAD are allowed")
		return
	}
	if !b.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="steller-edge"`)
		writeProblem(w, http.StatusUnauthorized, "send the edge token as Authorization: Bearer <token>")
		return
	}
	cur := b.cur.Load()
	if cur == nil {
		// Not refreshed yet (Run not started, or the database was down): try now.
		if err := b.Refresh(r.Context()); err != nil {
			b.log.Error("policy bundle unavailable", "error", err)
		}
		if cur = b.cur.Load(); cur == nil {
			w.Header().Set("Retry-After", "5")
			writeProblem(w, http.StatusServiceUnavailable, "the policy bundle is not available yet")
			return
		}
	}
	h := w.Header()
	h.Set("ETag", cur.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Steller-Policy-Revision", cur.revision)
	if etagMatches(r.Header.Values("If-None-Match"), cur.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/gzip")
	h.Set("Content-Length", strconv.Itoa(len(cur.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(cur.body)
	}
}

// authorized checks the edge token (edgeauth: constant time, every configured token).
func (b *BundleServer) authorized(r *http.Request) bool {
	return b.tokens.Allows(r.Header.Get("Authorization"))
}

// etagMatches applies If-None-Match's weak comparison: any listed tag (W/ ignored) or *
// matches.
func etagMatches(headers []string, etag string) bool {
	for _, h := range headers {
		for _, tag := range strings.Split(h, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == "*" || tag == etag {
				return true
			}
		}
	}
	return false
}

// quote makes an HTTP entity tag of s.
func quote(s string) string { return `"` + s + `"` }

// writeProblem writes a problem document (contract/problem) with the status's code.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	problem.Write(w, problem.New(status, problem.StatusCode(status), problem.Title(status), detail, ""))
}
