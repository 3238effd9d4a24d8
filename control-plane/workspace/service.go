// Package workspace owns a partner's team: members and their roles (owner, developer,
// finance), and invitations by e-mail with single-use tokens. The last owner of a
// workspace can be neither removed nor demoted; every change is audited in its own
// transaction.
package workspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/pgdb"
	"github.com/steller/platform/control-plane/rbac"
)

// DefaultInviteTTL is how long an invitation can be accepted when Config.InviteTTL is zero.
const DefaultInviteTTL = 7 * 24 * time.Hour

// Config holds the workspace Service's dependencies and settings.
type Config struct {
	// Pool is the control plane's database. Required.
	Pool *pgxpool.Pool
	// Logger records membership changes. Required.
	Logger *slog.Logger
	// Clock stamps invitations and decides their expiry; time.Now when nil.
	Clock func() time.Time
	// Checker decides who may read and manage members. Required.
	Checker rbac.Checker
	// Accounts hashes new users' passwords and starts their sessions. Required.
	Accounts *account.Service
	// InviteTTL is an invitation's lifetime; DefaultInviteTTL when zero.
	InviteTTL time.Duration
}

// Service manages members and invitations.
type Service struct {
	pool      *pgxpool.Pool
	log       *slog.Logger
	clock     func() time.Time
	checker   rbac.Checker
	accounts  *account.Service
	inviteTTL time.Duration
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Pool == nil {
		errs = append(errs, errors.New("workspace: Config.Pool is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("workspace: Config.Logger is required"))
	}
	if cfg.Checker == nil {
		errs = append(errs, errors.New("workspace: Config.Checker is required"))
	}
	if cfg.Accounts == nil {
		errs = append(errs, errors.New("workspace: Config.Accounts is required"))
	}
	if cfg.InviteTTL < 0 {
		errs = append(errs, errors.New("workspace: Config.InviteTTL must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.InviteTTL == 0 {
		cfg.InviteTTL = DefaultInviteTTL
	}
	return &Service{
		pool: cfg.Pool, log: cfg.Logger, clock: cfg.Clock, checker: cfg.Checker,
		accounts: cfg.Accounts, inviteTTL: cfg.InviteTTL,
	}, nil
}

// inTx runs fn in a transaction and commits it when fn succeeds.
func (s *Service) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("workspace: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("workspace: commit: %w", err)
	}
	return nil
}

// translate maps driver errors to fault kinds (pgdb.Translate); what names the thing.
func translate(err error, what, conflictMessage string) error {
	err = pgdb.Translate(err, pgdb.Messages{NotFound: what + " not found", Conflict: conflictMessage})
	var fe *fault.Error
	if err == nil || errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("workspace: %s: %w", what, err)
}
