// Package account owns who partners and admins are and how they sign in: self-service
// signup (partner, workspace, owner, sandbox balance and test key in one transaction),
// argon2id passwords, login and logout, opaque sessions stored hashed, GET /v1/me, and
// platform admin accounts.
package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/control-plane/milestone"
)

// DefaultSessionTTL is how long a session lasts when Config.SessionTTL is zero.
const DefaultSessionTTL = 7 * 24 * time.Hour

// SandboxStartingBalanceCents is the fake USD every new partner's sandbox starts with
// ($1,000.00).
const SandboxStartingBalanceCents = 100_000

// MilestoneSignedUp is the onboarding milestone recorded at signup.
const MilestoneSignedUp = string(milestone.SignedUp)

// KeyIssuer creates the sandbox (test) API key a new partner gets at signup, inside the
// signup transaction; the API keys package implements it. The secret is returned once
// and never stored.
type KeyIssuer interface {
	IssueSandboxKey(ctx context.Context, tx pgx.Tx, partnerID, workspaceID, createdBy string) (secret string, keyID string, err error)
}

// Config holds the account Service's dependencies and settings.
type Config struct {
	// Pool is the control plane's database. Required.
	Pool *pgxpool.Pool
	// Logger records signups and failures. Required.
	Logger *slog.Logger
	// Clock stamps sessions; time.Now when nil.
	Clock func() time.Time
	// KeyIssuer makes the signup's sandbox key. Required.
	KeyIssuer KeyIssuer
	// Jobs queues the signed_up milestone's milestone_reached job in the signup
	// transaction (the control plane's River client); nil records the milestone without
	// its job.
	Jobs milestone.Inserter
	// SessionTTL is a session's lifetime; DefaultSessionTTL when zero.
	SessionTTL time.Duration
	// CookieSecure marks the session cookie Secure (set it whenever served over HTTPS).
	CookieSecure bool
	// HashConcurrency bounds concurrent argon2id computations; 2×GOMAXPROCS when zero.
	HashConcurrency int
	// LoginThrottle slows guessing against one account; DefaultLoginThrottle when zero,
	// off when Free is negative.
	LoginThrottle LoginThrottle
}

// Service signs partners up and users and admins in.
type Service struct {
	pool         *pgxpool.Pool
	log          *slog.Logger
	clock        func() time.Time
	keys         KeyIssuer
	jobs         milestone.Inserter
	ttl          time.Duration
	cookieSecure bool
	hasher       *hasher
	throttle     *throttle
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Pool == nil {
		errs = append(errs, errors.New("account: Config.Pool is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("account: Config.Logger is required"))
	}
	if cfg.KeyIssuer == nil {
		errs = append(errs, errors.New("account: Config.KeyIssuer is required"))
	}
	if cfg.SessionTTL < 0 || cfg.HashConcurrency < 0 {
		errs = append(errs, errors.New("account: SessionTTL and HashConcurrency must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.HashConcurrency == 0 {
		cfg.HashConcurrency = 2 * runtime.GOMAXPROCS(0)
	}
	h, err := newHasher(cfg.HashConcurrency)
	if err != nil {
		return nil, err
	}
	if cfg.LoginThrottle == (LoginThrottle{}) {
		cfg.LoginThrottle = DefaultLoginThrottle
	}
	return &Service{
		pool: cfg.Pool, log: cfg.Logger, clock: cfg.Clock, keys: cfg.KeyIssuer, jobs: cfg.Jobs,
		ttl: cfg.SessionTTL, cookieSecure: cfg.CookieSecure, hasher: h,
		throttle: newThrottle(cfg.LoginThrottle, cfg.Clock),
	}, nil
}

// HashPassword checks password against the rules (CheckPassword) and returns its
// argon2id hash, for callers that create users (invitation acceptance).
func (s *Service) HashPassword(ctx context.Context, password, email string) (string, error) {
	if err := CheckPassword(password, email); err != nil {
		return "", err
	}
	return s.hasher.hash(ctx, password)
}

// inTx runs fn in a transaction and commits it when fn succeeds.
func inTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("account: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("account: commit: %w", err)
	}
	return nil
}
