package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/gateway-plugin/edgesync"
	"github.com/steller/platform/policies"
)

// KeyLookup finds a key by the hash of its secret. *edgesync.Client and
// *edgesync.FileSource satisfy it; lookups must be safe for concurrent use and fast.
type KeyLookup interface {
	Lookup(keyformat.Hash) (*edgesync.Record, bool)
}

// Authorizer decides whether an identified key may make a request. *policies.Engine
// satisfies it. An error means no decision could be made; the core then fails closed.
type Authorizer interface {
	DecideEdge(ctx context.Context, in policies.EdgeInput) (policies.Decision, error)
}

// Config holds the Core's dependencies.
type Config struct {
	// Keys looks API keys up (required).
	Keys KeyLookup
	// Authorizer decides by policy (required).
	Authorizer Authorizer
	// SandboxUpstream is where test keys go (required, absolute http(s) URL).
	SandboxUpstream string
	// LiveUpstream is where live keys go (required, absolute http(s) URL).
	LiveUpstream string
	// Signer signs the identity of every allowed request for its upstream (required):
	// upstreams refuse what the edge did not sign.
	Signer *edgesign.Signer
	// Routes is the route table; nil means DefaultRoutes.
	Routes []Route
	// Clock gives the time for expiry checks; time.Now when nil.
	Clock func() time.Time
	// Logger receives policy errors (required).
	Logger *slog.Logger
}

// Core decides edge requests. It is immutable after New and safe for concurrent use.
type Core struct {
	keys    KeyLookup
	authz   Authorizer
	sandbox *url.URL
	live    *url.URL
	signer  *edgesign.Signer
	router  *router
	clock   func() time.Time
	log     *slog.Logger
}

// New validates cfg and builds a Core; every problem in cfg is reported together.
func New(cfg Config) (*Core, error) {
	var errs []error
	if cfg.Keys == nil {
		errs = append(errs, errors.New("edge: Config.Keys is required"))
	}
	if cfg.Authorizer == nil {
		errs = append(errs, errors.New("edge: Config.Authorizer is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("edge: Config.Logger is required"))
	}
	if cfg.Signer == nil {
		errs = append(errs, errors.New("edge: Config.Signer is required (the edge signing secret)"))
	}
	sandbox, err := parseUpstream("SandboxUpstream", cfg.SandboxUpstream)
	errs = append(errs, err)
	live, err := parseUpstream("LiveUpstream", cfg.LiveUpstream)
	errs = append(errs, err)
	routes := cfg.Routes
	if routes == nil {
		routes = DefaultRoutes
	}
	rt, err := newRouter(routes)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	clock := cfg.Clock
	if clock == nil {
		clock = time.Now
	}
	return &Core{keys: cfg.Keys, authz: cfg.Authorizer, sandbox: sandbox, live: live, signer: cfg.Signer, router: rt, clock: clock, log: cfg.Logger}, nil
}

func parseUpstream(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("edge: Config.%s must be an absolute http(s) URL, got %q", name, raw)
	}
	return u, nil
}

// Upstream returns the upstream base URL for an environment.
func (c *Core) Upstream(env keyformat.Environment) *url.URL {
	if env == keyformat.Live {
		return c.live
	}
	return c.sandbox
}

// Route returns the route name for a method and path.
func (c *Core) Route(method, path string) string { return c.router.match(method, path) }

// Decide decides one request. It never fails: every problem becomes a denial (fail closed).
// The checks run in a fixed order, first failure wins: key present, well formed and known;
// not revoked; not expired and not past a rolled key's grace; client address allowed; then
// policy (roles by route, environment rules, partner status).
func (c *Core) Decide(ctx context.Context, req *Request) Outcome {
	out := Outcome{RequestID: req.RequestID, ClientRequestID: req.ClientRequestID, Received: req.Received}
	if out.Received.IsZero() {
		out.Received = c.clock()
	}
	out.Route = c.router.match(req.Method, req.Path)

	secret, code := presentedKey(req)
	if code != "" {
		return out.deny(code, detailFor(code))
	}
	parsed, err := keyformat.Parse(secret)
	if err != nil {
		return out.deny(CodeInvalidKey, "The API key is not a valid Steller key; check it for typos.")
	}
	rec, ok := c.keys.Lookup(parsed.Hash)
	if !ok || rec.Key.Environment != parsed.Environment {
		return out.deny(CodeInvalidKey, "The API key is not recognised.")
	}
	k := &rec.Key
	out.Identity = Identity{KeyID: k.KeyID, PartnerID: k.PartnerID, WorkspaceID: k.WorkspaceID, Environment: k.Environment}

	if k.Status != edgewire.KeyActive {
		return out.deny(CodeKeyRevoked, "The API key has been revoked.")
	}
	now := c.clock()
	if k.GraceUntil != nil && !now.Before(*k.GraceUntil) {
		return out.deny(CodeKeyExpired, "The API key was rolled and its grace period has ended; use the new key.")
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return out.deny(CodeKeyExpired, "The API key has expired.")
	}
	if !rec.Allow.Contains(req.ClientAddr) {
		return out.deny(CodeIPNotAllowed, "Requests with this key are not allowed from this client address.")
	}

	decision, err := c.authz.DecideEdge(ctx, policies.EdgeInput{
		Method:        req.Method,
		Path:          req.Path,
		Route:         out.Route,
		Environment:   string(k.Environment),
		Roles:         k.Roles,
		PartnerID:     k.PartnerID,
		PartnerStatus: string(rec.PartnerStatus),
	})
	if err != nil {
		c.log.Error("edge: policy evaluation failed; denying", "request_id", req.RequestID, "route", out.Route, "err", err)
		return out.deny(CodePolicyError, "The request could not be authorized right now; retry later.")
	}
	if !decision.Allow {
		code := CodeForbiddenByPolicy
		if decision.Code == CodePartnerSuspended {
			code = CodePartnerSuspended
		}
		detail := decision.Reason
		if detail == "" {
			detail = detailFor(code)
		}
		return out.deny(code, detail)
	}
	out.Allowed = true
	out.Upstream = c.Upstream(k.Environment)
	out.Signature = c.signer.Sign(&edgesign.Identity{
		Method: req.Method, Path: req.Path, RequestID: req.RequestID, PartnerID: k.PartnerID,
		WorkspaceID: k.WorkspaceID, Environment: string(k.Environment), KeyID: k.KeyID,
	}, now)
	return out
}

// presentedKey returns the key the request presents, or a denial code. A key may come as
// "Authorization: Bearer <key>" or "X-Api-Key: <key>"; when both are present they must be
// the same key.
func presentedKey(req *Request) (string, string) {
	bearer := ""
	if auth := strings.TrimSpace(req.Authorization); auth != "" {
		scheme, token, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			// Another scheme (Basic, a bare key) is not a Steller key.
			if req.APIKey == "" {
				return "", CodeInvalidKey
			}
		} else {
			bearer = strings.TrimSpace(token)
		}
	}
	header := strings.TrimSpace(req.APIKey)
	switch {
	case bearer == "" && header == "":
		return "", CodeMissingKey
	case bearer == "":
		return header, ""
	case header == "":
		return bearer, ""
	case keyformat.EqualSecret(bearer, header):
		return bearer, ""
	default:
		return "", CodeInvalidKey
	}
}

func (o Outcome) deny(code, detail string) Outcome {
	o.Allowed = false
	o.Code = code
	o.Status = statusFor(code)
	o.Detail = detail
	return o
}
