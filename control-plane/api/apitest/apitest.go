// Package apitest owns the test harness of the control-plane API: a whole API on its own
// migrated PostgreSQL database (testenv), a fake sandbox-key issuer, a settable clock,
// and helpers that sign partners up and add members directly, for the tests of every
// control-plane package.
package apitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/ident"
	"github.com/steller/platform/control-plane/migration"
	"github.com/steller/platform/internal/testclock"
	"github.com/steller/platform/internal/testenv"
	"github.com/steller/platform/policies"
)

// Clock is the test clock the API runs on: it starts at the real time and moves only when
// told.
type Clock = testclock.Clock

// KeyIssuer is a fake account.KeyIssuer that inserts an api_keys row with a random hash
// and returns a fake secret.
type KeyIssuer struct{}

// IssueSandboxKey implements account.KeyIssuer.
func (KeyIssuer) IssueSandboxKey(ctx context.Context, tx pgx.Tx, partnerID, workspaceID, createdBy string) (string, string, error) {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	id := ident.New("key")
	secret := "sk_test_fake" + hex.EncodeToString(raw[:8])
	_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, partner_id, workspace_id, environment, name, display, hash, created_by)
VALUES ($1, $2, $3, 'test', 'Sandbox key', $4, $5, $6)`, id, partnerID, workspaceID, secret[:16], raw[:], createdBy)
	return secret, id, err
}

// Env is one test's API on its own database.
type Env struct {
	T     testing.TB
	API   *api.API
	Pool  *pgxpool.Pool
	Clock *Clock
}

// New builds an API on a fresh migrated database. edit may change the config (limits,
// TTLs) before the API is built; rate limits are off unless edit sets them.
func New(t testing.TB, edit ...func(*api.Config)) *Env {
	t.Helper()
	pool := testenv.Postgres(t)
	logger := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := migration.Up(ctx, pool, logger)
	require.NoError(t, err)
	engine, err := policies.New(policies.Config{Logger: logger})
	require.NoError(t, err)
	clock := testclock.New(time.Now().UTC().Truncate(time.Microsecond))
	cfg := api.Config{
		Pool: pool, Logger: logger, Clock: clock.Now, Engine: engine, KeyIssuer: KeyIssuer{},
		SignupLimit: api.RateLimit{Requests: -1}, LoginLimit: api.RateLimit{Requests: -1},
	}
	for _, f := range edit {
		f(&cfg)
	}
	a, err := api.New(cfg)
	require.NoError(t, err)
	return &Env{T: t, API: a, Pool: pool, Clock: clock}
}

// Response is a recorded response with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// Do sends a request through the API's whole handler (request ids and all). body is
// JSON-encoded unless it is a string or []byte (sent as is); token, when not empty, is
// sent as a bearer session token.
func (e *Env) Do(method, path, token string, body any) Response {
	e.T.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.T, err)
		r = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.API.Handler().ServeHTTP(rec, req)
	return Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// Partner is a signed-up partner.
type Partner struct {
	PartnerID, WorkspaceID, OwnerID, OwnerEmail, Token, KeySecret string
}

// Password is a password every helper-made user has; it passes the strength rules.
const Password = "correct-Horse-battery-9"

// Signup signs a partner up through the API and returns its ids and owner session.
func (e *Env) Signup(company string) Partner {
	e.T.Helper()
	email := strings.ToLower(strings.ReplaceAll(company, " ", "")) + "-" + ident.New("e")[2:10] + "@example.com"
	res := e.Do(http.MethodPost, "/v1/public/signup", "", map[string]any{
		"company": company, "name": "Owner of " + company, "email": email, "password": Password,
	})
	require.Equal(e.T, http.StatusCreated, res.Status, "signup: %s", res.Body)
	var out account.SignupBody
	require.NoError(e.T, json.Unmarshal(res.Body, &out))
	return Partner{
		PartnerID: out.Partner.ID, WorkspaceID: out.Workspace.ID, OwnerID: out.User.ID,
		OwnerEmail: email, Token: out.Session.Token, KeySecret: out.APIKey.Secret,
	}
}

// Member is a user added to a workspace by AddMember, with a session in it.
type Member struct {
	UserID, Email, Token string
}

// AddMember inserts a user with role into workspaceID and a session for them, straight
// into the database (no password hashing), for tests that need many members quickly.
func (e *Env) AddMember(workspaceID, role string) Member {
	e.T.Helper()
	ctx := context.Background()
	m := Member{UserID: ident.New("usr")}
	m.Email = m.UserID + "@example.com"
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	m.Token = "sts_" + hex.EncodeToString(raw[:])
	_, err := e.Pool.Exec(ctx, `INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'Member', 'x')`, m.UserID, m.Email)
	require.NoError(e.T, err)
	_, err = e.Pool.Exec(ctx, `INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3)`, workspaceID, m.UserID, role)
	require.NoError(e.T, err)
	e.addSession("user", m.UserID, workspaceID, m.Token)
	return m
}

// AdminSession creates a platform admin through account.CreateAdmin and returns a
// session token for it.
func (e *Env) AdminSession() string {
	e.T.Helper()
	email := ident.New("adm") + "@steller.example"
	_, err := account.CreateAdmin(context.Background(), e.Pool, email, "Admin", Password)
	require.NoError(e.T, err)
	res := e.Do(http.MethodPost, "/v1/admin/auth/login", "", map[string]any{"email": email, "password": Password})
	require.Equal(e.T, http.StatusOK, res.Status, "admin login: %s", res.Body)
	var out account.LoginBody
	require.NoError(e.T, json.Unmarshal(res.Body, &out))
	return out.Session.Token
}

func (e *Env) addSession(kind, subject, workspaceID, token string) {
	e.T.Helper()
	_, err := e.Pool.Exec(context.Background(), `INSERT INTO sessions (token_hash, subject_kind, subject_id, workspace_id, expires_at)
VALUES ($1, $2, $3, NULLIF($4, ''), $5)`, account.HashToken(token), kind, subject, workspaceID, e.Clock.Now().Add(time.Hour))
	require.NoError(e.T, err)
}

// Count returns the number of rows of table (a constant name from the test).
func (e *Env) Count(table string) int {
	e.T.Helper()
	var n int
	require.NoError(e.T, e.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n))
	return n
}

// NewWorkspace inserts a partner with its workspace and an owner with a session straight
// into the database (no signup, no password hashing, no key), for tests that need many.
func (e *Env) NewWorkspace(company string) Partner {
	e.T.Helper()
	ctx := context.Background()
	p := Partner{PartnerID: ident.New("ptr"), WorkspaceID: ident.New("ws")}
	_, err := e.Pool.Exec(ctx, `INSERT INTO partners (id, company) VALUES ($1, $2)`, p.PartnerID, company)
	require.NoError(e.T, err)
	_, err = e.Pool.Exec(ctx, `INSERT INTO workspaces (id, partner_id, name) VALUES ($1, $2, $3)`, p.WorkspaceID, p.PartnerID, company)
	require.NoError(e.T, err)
	owner := e.AddMember(p.WorkspaceID, "owner")
	p.OwnerID, p.OwnerEmail, p.Token = owner.UserID, owner.Email, owner.Token
	return p
}
