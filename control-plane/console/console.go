// Package console owns the portal console's zero-code first call: a signed-in workspace
// member places a test gift-card order through the edge without copying a key. The
// control plane mints a short-lived test key (name "Console", 10 minutes), sends the order
// through the edge exactly as a partner's code would (so it is authenticated, authorized,
// logged to ClickHouse and fires webhooks like any other request), revokes the key, and
// returns what the edge answered with its request id. Orders are limited per partner
// (Config.Orders).
package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/pgdb"
	"github.com/steller/platform/control-plane/quota"
)

// KeyName names the keys the console mints, so members recognise them in the key list.
const KeyName = "Console (temporary)"

// keyLifetime bounds a console key in case its revocation fails.
const keyLifetime = 10 * time.Minute

// maxResponse bounds the edge answer the console reads and returns.
const maxResponse = 64 << 10

// Keys mints and revokes the console's keys (apikey.Service does).
type Keys interface {
	// Create makes a key in the caller's workspace and returns its secret once.
	Create(ctx context.Context, p auth.Principal, in apikey.Settings) (apikey.Created, error)
	// Revoke ends a key at once.
	Revoke(ctx context.Context, p auth.Principal, id string) (apikey.Key, error)
}

// Config configures the Console.
type Config struct {
	// Keys mints the temporary test keys (required).
	Keys Keys
	// EdgeURL returns the edge's base URL at request time; an empty answer disables the
	// console with a clear 503 (required).
	EdgeURL func() string
	// Logger (required).
	Logger *slog.Logger
	// Client calls the edge; a client with a 30 s timeout when nil.
	Client *http.Client
	// KeyWait is how long to keep retrying while the edge does not know the new key yet
	// (edge sync brings it within about a second); 10 s when zero.
	KeyWait time.Duration
	// Orders limits test orders per partner (OrderLimiter; refused with
	// fault.CodeTestOrderRateLimited); nil places every one.
	Orders *quota.Limiter
}

// OrderLimiter returns the limiter of test orders per partner at rate r, for Config.Orders;
// clock is time.Now when nil.
func OrderLimiter(db pgdb.DB, r quota.Rate, clock func() time.Time) (*quota.Limiter, error) {
	return quota.New(quota.Config{DB: db, Action: "console.test_order", Rate: r, Code: fault.CodeTestOrderRateLimited,
		What: "console test orders", Clock: clock})
}

// Console places test orders through the edge for signed-in members.
type Console struct {
	cfg Config
}

// New checks cfg and returns the Console.
func New(cfg Config) (*Console, error) {
	if cfg.Keys == nil || cfg.EdgeURL == nil || cfg.Logger == nil {
		return nil, errors.New("console.New: Keys, EdgeURL and Logger are required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.KeyWait <= 0 {
		cfg.KeyWait = 10 * time.Second
	}
	return &Console{cfg: cfg}, nil
}

// Order is what the console asks the sandbox for.
type Order struct {
	ProductID   string `json:"product_id"`
	AmountCents int64  `json:"amount_cents"`
}

// Result is the edge's answer to the console's request.
type Result struct {
	// RequestID is the edge's X-Request-Id: the request as the log explorer shows it.
	RequestID string
	// Status is the HTTP status the edge answered with.
	Status int
	// Body is the edge's JSON answer (the sandbox order, or a problem document).
	Body json.RawMessage
	// KeyID is the temporary key the request was made with (revoked since).
	KeyID string
}

// PlaceTestOrder mints a temporary test key for p's workspace, sends the order through the
// edge with it, revokes it, and returns the edge's answer.
func (c *Console) PlaceTestOrder(ctx context.Context, p auth.Principal, o Order) (Result, error) {
	base := strings.TrimRight(c.cfg.EdgeURL(), "/")
	if base == "" {
		return Result{}, fault.New(fault.ErrUnavailable, "the console is not enabled here: the control plane has no --console-edge-url")
	}
	// Before the key: a refused order mints nothing.
	if c.cfg.Orders != nil {
		if err := c.cfg.Orders.Take(ctx, nil, p.PartnerID); err != nil {
			return Result{}, err
		}
	}
	expires := time.Now().Add(keyLifetime)
	key, err := c.cfg.Keys.Create(ctx, p, apikey.Settings{Name: KeyName, Environment: keyformat.Test,
		Roles: slices.Clone(apikey.SandboxRoles), AllowedCIDRs: []string{}, ExpiresAt: &expires})
	if err != nil {
		return Result{}, err
	}
	defer func() {
		// The key has done its work; a failed revoke leaves it to expire within minutes.
		if _, err := c.cfg.Keys.Revoke(context.WithoutCancel(ctx), p, key.Key.ID); err != nil {
			c.cfg.Logger.Warn("console: revoking the temporary key failed; it expires by itself", "key_id", key.Key.ID, "err", err)
		}
	}()
	body, err := json.Marshal(o)
	if err != nil {
		return Result{}, err
	}
	idem := make([]byte, 16)
	if _, err := rand.Read(idem); err != nil {
		return Result{}, err
	}
	deadline := time.Now().Add(c.cfg.KeyWait)
	for {
		res, code, err := c.send(ctx, base+"/v1/orders", key.Secret, "console-"+hex.EncodeToString(idem), body)
		if err != nil {
			return Result{}, err
		}
		// invalid_key: the edge has not received the new key yet; it will within about a second.
		if code != "invalid_key" || time.Now().After(deadline) {
			res.KeyID = key.Key.ID
			return res, nil
		}
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// send makes one request to the edge; code is the problem code of a denial.
func (c *Console) send(ctx context.Context, url, secret, idempotencyKey string, body []byte) (Result, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Result{}, "", err
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idempotencyKey)
	req.Header.Set("User-Agent", "Steller-Console/1")
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		// The address and the network error are logged with the request id, never shown.
		return Result{}, "", &fault.Error{Kind: fault.ErrUnavailable, Cause: fmt.Errorf("console: POST %s: %w", url, err),
			Message: "the edge did not answer the test order; try again in a moment"}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return Result{}, "", &fault.Error{Kind: fault.ErrUnavailable, Cause: fmt.Errorf("console: read the edge's answer: %w", err),
			Message: "the edge's answer to the test order was cut off; try again in a moment"}
	}
	if !json.Valid(raw) {
		raw, _ = json.Marshal(map[string]string{"raw": string(raw)})
	}
	var problem struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(raw, &problem)
	return Result{RequestID: resp.Header.Get(identity.HeaderRequestID), Status: resp.StatusCode, Body: raw}, problem.Code, nil
}
