package edgesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/control-plane/edgeauth"
)

// MountPath is the prefix under which Handler serves; mount it on the control plane's mux
// outside the session-authenticated API (edges authenticate with an edge token).
const MountPath = "/internal/edge/v1/"

// Defaults for Config's optional fields.
const (
	DefaultMaxWait    = 30 * time.Second
	DefaultPageSize   = 1000
	DefaultRetention  = 7 * 24 * time.Hour
	DefaultPruneEvery = time.Hour
	DefaultPollEvery  = time.Second
	// DefaultDeadKeyGrace is how long a revoked or expired key stays on edges.
	DefaultDeadKeyGrace = 24 * time.Hour
)

// Config holds the Server's dependencies and settings.
type Config struct {
	// Pool is the control plane's database (required).
	Pool *pgxpool.Pool
	// Tokens are the accepted edge tokens (at least one, none empty); several allow rotation.
	Tokens []string
	// Logger receives listener and request failures (required).
	Logger *slog.Logger
	// Clock stamps snapshots and prune cutoffs; time.Now when nil.
	Clock func() time.Time
	// MaxWait caps the long-poll wait an edge may ask for; DefaultMaxWait when zero.
	MaxWait time.Duration
	// PageSize bounds the changes in one answer (the edge asks again); DefaultPageSize when zero.
	PageSize int
	// Retention is how long changes are kept; older edges resync. DefaultRetention when zero.
	Retention time.Duration
	// PruneEvery is how often Run prunes; DefaultPruneEvery when zero.
	PruneEvery time.Duration
	// PollEvery is how often waiting long-polls re-read the feed while the LISTEN
	// connection is down; DefaultPollEvery when zero.
	PollEvery time.Duration
	// DeadKeyGrace is how long a key stays on edges after it was revoked or expired (or its
	// roll's grace ended): meanwhile edges deny it as key_revoked or key_expired; after it,
	// snapshots leave it out and the sweep (every PruneEvery) deletes it from edges, which
	// then deny it as invalid_key. DefaultDeadKeyGrace when zero.
	DeadKeyGrace time.Duration
}

// Server serves the edge sync protocol: the snapshot and the long-poll change feed. Waiting
// long-polls hold no database connection: one LISTEN connection (Run) wakes them all.
type Server struct {
	cfg       Config
	store     store
	log       *slog.Logger
	clock     func() time.Time
	tokens    edgeauth.Tokens
	bc        *broadcast
	listening atomic.Bool
	mux       *http.ServeMux
	drain     chan struct{}
	drainOnce sync.Once
}

// New validates cfg and builds a Server; every problem is reported together.
func New(cfg Config) (*Server, error) {
	var errs []error
	if cfg.Pool == nil {
		errs = append(errs, errors.New("edgesync: Config.Pool is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("edgesync: Config.Logger is required"))
	}
	tokens, err := edgeauth.New(cfg.Tokens...)
	if err != nil {
		errs = append(errs, fmt.Errorf("edgesync: Config.Tokens: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	cfg.MaxWait = cmpOr(cfg.MaxWait, DefaultMaxWait)
	cfg.Retention = cmpOr(cfg.Retention, DefaultRetention)
	cfg.PruneEvery = cmpOr(cfg.PruneEvery, DefaultPruneEvery)
	cfg.PollEvery = cmpOr(cfg.PollEvery, DefaultPollEvery)
	cfg.DeadKeyGrace = cmpOr(cfg.DeadKeyGrace, DefaultDeadKeyGrace)
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	s := &Server{cfg: cfg, store: store{pool: cfg.Pool}, log: cfg.Logger, clock: cfg.Clock, tokens: tokens, bc: newBroadcast(), drain: make(chan struct{})}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET "+edgewire.SnapshotPath, s.snapshot)
	s.mux.HandleFunc("GET "+edgewire.ChangesPath, s.changes)
	return s, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Handler returns the HTTP handler of both endpoints (full paths under MountPath).
func (s *Server) Handler() http.Handler { return s }

// ServeHTTP authenticates the edge token and serves the snapshot or the change feed.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r.Header.Get("Authorization")) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="edge"`)
		writeProblem(w, http.StatusUnauthorized, problem.StatusCode(http.StatusUnauthorized), "send Authorization: Bearer <edge token>")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// authorized checks the edge token (edgeauth: constant time, every configured token).
func (s *Server) authorized(header string) bool { return s.tokens.Allows(header) }

// Drain answers every waiting long-poll at once (with no changes) and makes later ones
// answer without waiting, so an HTTP server's graceful shutdown is not held up for the
// long-poll wait: register it with http.Server.RegisterOnShutdown.
func (s *Server) Drain() { s.drainOnce.Do(func() { close(s.drain) }) }

// Listening reports whether the LISTEN connection is up (for readiness).
func (s *Server) Listening() bool { return s.listening.Load() }

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	now := s.clock()
	snap, err := s.store.snapshot(r.Context(), now, now.Add(-s.cfg.DeadKeyGrace))
	if err != nil {
		s.log.Error("edge sync: snapshot failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, problem.StatusCode(http.StatusInternalServerError), "snapshot failed")
		return
	}
	writeJSON(w, snap)
}

func (s *Server) changes(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	since, err := strconv.ParseUint(q.Get("since"), 10, 64)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, problem.StatusCode(http.StatusBadRequest), "since must be a version (an unsigned integer)")
		return
	}
	wait := time.Duration(0)
	if raw := q.Get("wait"); raw != "" {
		wait, err = time.ParseDuration(raw)
		if err != nil || wait < 0 {
			writeProblem(w, http.StatusBadRequest, problem.StatusCode(http.StatusBadRequest), "wait must be a non-negative Go duration such as 25s")
			return
		}
	}
	wait = min(wait, s.cfg.MaxWait)

	oldest, latest, err := s.store.bounds(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// An edge at V needs V+1 onward: V below oldest-1 means pruned changes are missing; V
	// above latest means the feed was restored to an older state.
	if since > latest || (oldest > 0 && since+1 < oldest) {
		writeProblem(w, http.StatusGone, edgewire.ResyncCode,
			fmt.Sprintf("version %d is outside the change feed (%d..%d held); fetch a snapshot", since, oldest, latest))
		return
	}

	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		woken := s.bc.wait() // before reading, so a commit after the read still wakes us
		page, err := s.store.changesAfter(ctx, since, s.cfg.PageSize)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if len(page) > 0 {
			writeJSON(w, edgewire.Changes{Version: page[len(page)-1].Version, Changes: page})
			return
		}
		var poll <-chan time.Time
		if !s.listening.Load() {
			poll = time.After(s.cfg.PollEvery)
		}
		select {
		case <-woken:
		case <-poll:
		case <-timer.C:
			writeJSON(w, edgewire.Changes{Version: since, Changes: []edgewire.Change{}})
			return
		case <-s.drain:
			writeJSON(w, edgewire.Changes{Version: since, Changes: []edgewire.Change{}})
			return
		case <-ctx.Done():
			return // the edge went away
		}
	}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return
	}
	s.log.Error("edge sync: change feed failed", "err", err)
	writeProblem(w, http.StatusInternalServerError, problem.StatusCode(http.StatusInternalServerError), "change feed failed")
}

// Run keeps the process's one LISTEN connection on NotifyChannel open (reconnecting with
// backoff; waiting long-polls fall back to polling every PollEvery meanwhile), and every
// PruneEvery deletes long-dead keys from edges and prunes the feed. It returns when ctx is
// done.
func (s *Server) Run(ctx context.Context) error {
	go s.pruneLoop(ctx)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listen(ctx)
		s.listening.Store(false)
		if ctx.Err() != nil {
			break
		}
		s.log.Warn("edge sync: LISTEN connection lost; long-polls poll until it is back", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
	return ctx.Err()
}

func (s *Server) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, s.cfg.Pool.Config().ConnConfig)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return err
	}
	s.listening.Store(true)
	s.bc.notify() // changes may have committed while no one listened
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		s.bc.notify()
	}
}

func (s *Server) pruneLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.PruneEvery)
	defer t.Stop()
	for {
		if n, err := s.DeleteDeadKeys(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("edge sync: deleting dead keys from edges failed", "err", err)
		} else if n > 0 {
			s.log.Info("edge sync: deleted dead keys from edges", "keys", n, "dead_for", s.cfg.DeadKeyGrace)
		}
		if n, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("edge sync: prune failed", "err", err)
		} else if n > 0 {
			s.log.Info("edge sync: pruned old changes", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Prune deletes changes older than Retention (keeping the newest) and returns the count.
func (s *Server) Prune(ctx context.Context) (int64, error) {
	return Prune(ctx, s.cfg.Pool, s.clock().Add(-s.cfg.Retention))
}

// DeleteDeadKeys deletes from edges the keys dead for longer than DeadKeyGrace (see
// the package function) and returns how many; Run calls it every PruneEvery.
func (s *Server) DeleteDeadKeys(ctx context.Context) (int64, error) {
	now := s.clock()
	return DeleteDeadKeys(ctx, s.cfg.Pool, now.Add(-s.cfg.DeadKeyGrace), now)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// writeProblem writes a problem document (contract/problem) with a stable code.
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Cache-Control", "no-store")
	problem.Write(w, problem.New(status, code, problem.Title(status), detail, ""))
}
