package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
)

// CookieName is the portal's session cookie.
const CookieName = "steller_session"

// sessionTokenPrefix marks session tokens so they are never confused with API keys.
const sessionTokenPrefix = "sts_"

// Session is a newly created session: the token is shown to the caller once, only its
// SHA-256 is stored.
type Session struct {
	// Token is the opaque bearer token (and cookie value).
	Token string `json:"token" doc:"Opaque session token: send it as Authorization: Bearer <token> (the portal uses the steller_session cookie). Shown once."`
	// ExpiresAt is when the session stops working.
	ExpiresAt time.Time `json:"expires_at"`
}

// HashToken returns the stored form of a session token.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func newToken() string {
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails on Linux
	return sessionTokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
}

// CreateSession starts a session for a user in a workspace (kind user) or for an admin
// (kind admin, workspaceID empty), inside tx.
func (s *Service) CreateSession(ctx context.Context, tx pgx.Tx, kind auth.Kind, subjectID, workspaceID string) (Session, error) {
	now := s.clock()
	sess := Session{Token: newToken(), ExpiresAt: now.Add(s.ttl)}
	if _, err := tx.Exec(ctx, insertSessionSQL, HashToken(sess.Token), string(kind), subjectID, workspaceID, now, sess.ExpiresAt); err != nil {
		return Session{}, fmt.Errorf("account: create session: %w", err)
	}
	return sess, nil
}

// Cookie returns the Set-Cookie value carrying sess (HttpOnly, SameSite=Lax, Secure as
// configured); an empty session clears the cookie.
func (s *Service) Cookie(sess Session) string {
	c := http.Cookie{
		Name: CookieName, Value: sess.Token, Path: "/", HttpOnly: true,
		Secure: s.cookieSecure, SameSite: http.SameSiteLaxMode,
	}
	if sess.Token == "" {
		c.MaxAge = -1
	} else {
		c.Expires = sess.ExpiresAt.UTC()
		c.MaxAge = int(s.ttl / time.Second)
	}
	return c.String()
}

// TokenFrom returns the session token a request presents: the Authorization bearer
// token when it is a session token, else the session cookie's value.
func TokenFrom(authorization, cookie string) string {
	if scheme, token, ok := strings.Cut(authorization, " "); ok && strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(token)
		if strings.HasPrefix(token, sessionTokenPrefix) {
			return token
		}
	}
	if strings.HasPrefix(cookie, sessionTokenPrefix) {
		return cookie
	}
	return ""
}

// Authenticate returns the principal of a live session token. An unknown, expired or
// revoked token, or a user no longer member of the session's workspace, is unauthorized.
func (s *Service) Authenticate(ctx context.Context, token string) (auth.Principal, error) {
	if token == "" {
		return auth.Principal{}, fault.New(fault.ErrUnauthorized, "no session")
	}
	hash := HashToken(token)
	var kind, subject, workspace, email, partner, role string
	err := s.pool.QueryRow(ctx, sessionPrincipalSQL, hash, s.clock()).Scan(&kind, &subject, &workspace, &email, &partner, &role)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Principal{}, fault.New(fault.ErrUnauthorized, "the session is unknown, expired or revoked")
	}
	if err != nil {
		return auth.Principal{}, fmt.Errorf("account: load session: %w", err)
	}
	p := auth.Principal{Kind: auth.Kind(kind), ID: subject, Email: email, SessionHash: hash}
	switch p.Kind {
	case auth.KindUser:
		if role == "" || partner == "" {
			return auth.Principal{}, fault.New(fault.ErrUnauthorized, "the session's workspace membership has ended")
		}
		p.PartnerID, p.WorkspaceID, p.Role = partner, workspace, role
	case auth.KindAdmin:
		if email == "" {
			return auth.Principal{}, fault.New(fault.ErrUnauthorized, "the session's admin no longer exists")
		}
	default:
		return auth.Principal{}, fault.New(fault.ErrUnauthorized, "unknown session kind")
	}
	return p, nil
}

// Logout revokes the caller's session.
func (s *Service) Logout(ctx context.Context, p auth.Principal) error {
	if len(p.SessionHash) == 0 {
		return fault.New(fault.ErrUnauthorized, "no session to end")
	}
	if _, err := s.pool.Exec(ctx, revokeSessionSQL, p.SessionHash, s.clock()); err != nil {
		return fmt.Errorf("account: logout: %w", err)
	}
	return nil
}
