package account

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/ident"
	"github.com/steller/platform/control-plane/input"
)

// errBadCredentials is the one answer to every failed login, so it never tells whether
// the e-mail exists.
var errBadCredentials = fault.New(fault.ErrUnauthorized, "the e-mail address or password is wrong")

// throttled is the answer to a sign-in while its mailbox waits out failed attempts; it is
// the same whether or not the address has an account.
func throttled(wait time.Duration) error {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return &fault.Error{Kind: fault.ErrRateLimited, RetryAfter: wait,
		Message: fmt.Sprintf("too many failed sign-ins for this e-mail address: try again in %d s", secs)}
}

// LoginResult is a started session and where it acts.
type LoginResult struct {
	Session     Session
	UserID      string
	WorkspaceID string
}

// Login checks a user's password and starts a session in workspaceID, or in the user's
// oldest workspace when it is empty. An unknown e-mail costs one argon2id verification
// too, so response times do not reveal which addresses have accounts.
func (s *Service) Login(ctx context.Context, email, password, workspaceID string) (LoginResult, error) {
	key := throttleKey("user", email)
	if wait := s.throttle.wait(key); wait > 0 {
		return LoginResult{}, throttled(wait)
	}
	var id, hash, ws string
	err := s.pool.QueryRow(ctx, userForLoginSQL, loginEmail(email), workspaceID).Scan(&id, &hash, &ws)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return LoginResult{}, fmt.Errorf("account: find user: %w", err)
	}
	ok, err := s.hasher.verify(ctx, password, hash)
	if err != nil {
		return LoginResult{}, err
	}
	if !ok {
		s.throttle.fail(key)
		return LoginResult{}, errBadCredentials
	}
	s.throttle.succeed(key)
	if ws == "" {
		if workspaceID != "" {
			return LoginResult{}, fault.New(fault.ErrForbidden, "you are not a member of this workspace")
		}
		return LoginResult{}, fault.New(fault.ErrForbidden, "you are not a member of any workspace")
	}
	res := LoginResult{UserID: id, WorkspaceID: ws}
	err = inTx(ctx, s.pool, func(tx pgx.Tx) error {
		res.Session, err = s.CreateSession(ctx, tx, auth.KindUser, id, ws)
		return err
	})
	return res, err
}

// AdminLogin checks a platform admin's password and starts an admin session.
func (s *Service) AdminLogin(ctx context.Context, email, password string) (Session, string, error) {
	key := throttleKey("admin", email)
	if wait := s.throttle.wait(key); wait > 0 {
		return Session{}, "", throttled(wait)
	}
	var id, hash string
	err := s.pool.QueryRow(ctx, adminForLoginSQL, loginEmail(email)).Scan(&id, &hash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Session{}, "", fmt.Errorf("account: find admin: %w", err)
	}
	ok, err := s.hasher.verify(ctx, password, hash)
	if err != nil {
		return Session{}, "", err
	}
	if !ok {
		s.throttle.fail(key)
		return Session{}, "", errBadCredentials
	}
	s.throttle.succeed(key)
	var sess Session
	err = inTx(ctx, s.pool, func(tx pgx.Tx) error {
		sess, err = s.CreateSession(ctx, tx, auth.KindAdmin, id, "")
		return err
	})
	return sess, id, err
}

// CreateAdmin creates a platform admin (the first one is made this way, from the
// command line) and returns its id. The password must pass CheckPassword; a taken
// e-mail is a conflict.
func CreateAdmin(ctx context.Context, pool *pgxpool.Pool, email, name, password string) (string, error) {
	name = strings.TrimSpace(name)
	email, err := NormalizeEmail("email", email)
	if err != nil {
		return "", err
	}
	if err := input.PlainText("name", name); err != nil {
		return "", err
	}
	if name == "" {
		return "", fault.Invalid("name", "name must not be blank", name)
	}
	if err := CheckPassword(password, email); err != nil {
		return "", err
	}
	h, err := newHasher(1)
	if err != nil {
		return "", err
	}
	hash, err := h.hash(ctx, password)
	if err != nil {
		return "", err
	}
	id := ident.New("adm")
	if _, err := pool.Exec(ctx, insertAdminSQL, id, email, name, hash); err != nil {
		return "", translate(err, "an admin with this e-mail address already exists")
	}
	return id, nil
}
