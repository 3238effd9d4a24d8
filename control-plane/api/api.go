// Package api owns the control plane's HTTP shell: the Huma API on net/http with its
// OpenAPI 3.1 document and offline docs, request ids, body limits, RFC 9457 problems,
// sessions (cookie or bearer) turned into the request's principal, per-IP rate limits on
// sign-up and sign-in, and the RBAC checker every resource package authorizes with. It
// registers the account and workspace operations; the other resource packages register
// theirs on Huma().
package api

import (
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/rbac"
	"github.com/steller/platform/control-plane/workspace"
	"github.com/steller/platform/internal/clientip"
	"github.com/steller/platform/policies"
)

// DefaultMaxBodyBytes caps request bodies when Config.MaxBodyBytes is zero (1 MiB).
const DefaultMaxBodyBytes = 1 << 20

// acceptInviteOp is rate-limited like signup: it creates accounts.
const acceptInviteOp = workspace.OpAcceptInvite

// Config holds the API's dependencies and settings.
type Config struct {
	// Pool is the control plane's database. Required.
	Pool *pgxpool.Pool
	// Logger receives the access log and failures. Required.
	Logger *slog.Logger
	// Clock is the time source for sessions, invitations and limits; time.Now when nil.
	Clock func() time.Time
	// Engine is the OPA engine whose control-plane policy decides RBAC. Required.
	Engine *policies.Engine
	// KeyIssuer creates the sandbox API key at signup (the apikey package). Required.
	KeyIssuer account.KeyIssuer
	// Jobs queues milestone_reached jobs in the signup transaction (the control plane's
	// River client); nil records signed_up without its job.
	Jobs milestone.Inserter
	// Version is the API version shown in the OpenAPI document.
	Version string
	// SessionTTL is a session's lifetime; account.DefaultSessionTTL when zero.
	SessionTTL time.Duration
	// InviteTTL is an invitation's lifetime; workspace.DefaultInviteTTL when zero.
	InviteTTL time.Duration
	// CookieSecure marks the session cookie Secure; set it whenever served over HTTPS.
	CookieSecure bool
	// SignupLimit bounds signups and invitation acceptances per client IP;
	// DefaultSignupLimit when zero. Set Requests to -1 to disable.
	SignupLimit RateLimit
	// LoginLimit bounds sign-in attempts per client IP; DefaultLoginLimit when zero.
	// Set Requests to -1 to disable.
	LoginLimit RateLimit
	// LoginThrottle slows password guessing per account (account.DefaultLoginThrottle when
	// zero; Free -1 disables it).
	LoginThrottle account.LoginThrottle
	// MaxBodyBytes caps request bodies (larger ones are 413); DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
	// TrustedProxies are the peers whose X-Forwarded-For names the client (for rate
	// limits); empty means the connection's peer is the client.
	TrustedProxies []netip.Prefix
	// HashConcurrency bounds concurrent argon2id computations; 2×GOMAXPROCS when zero.
	HashConcurrency int
}

// API is the control plane's HTTP API.
type API struct {
	log         *slog.Logger
	mux         *http.ServeMux
	huma        huma.API
	handler     http.Handler
	checker     *rbac.PolicyChecker
	accounts    *account.Service
	workspaces  *workspace.Service
	signupLimit *limiter
	loginLimit  *limiter
	clients     clientip.Resolver
}

// New builds the API and registers the account and workspace operations.
func New(cfg Config) (*API, error) {
	var errs []error
	if cfg.Pool == nil {
		errs = append(errs, errors.New("api: Config.Pool is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("api: Config.Logger is required"))
	}
	if cfg.Engine == nil {
		errs = append(errs, errors.New("api: Config.Engine is required"))
	}
	if cfg.KeyIssuer == nil {
		errs = append(errs, errors.New("api: Config.KeyIssuer is required"))
	}
	if cfg.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("api: Config.MaxBodyBytes must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.SignupLimit == (RateLimit{}) {
		cfg.SignupLimit = DefaultSignupLimit
	}
	if cfg.LoginLimit == (RateLimit{}) {
		cfg.LoginLimit = DefaultLoginLimit
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}

	checker, err := rbac.New(cfg.Engine)
	if err != nil {
		return nil, err
	}
	accounts, err := account.New(account.Config{
		Pool: cfg.Pool, Logger: cfg.Logger, Clock: cfg.Clock, KeyIssuer: cfg.KeyIssuer, Jobs: cfg.Jobs,
		SessionTTL: cfg.SessionTTL, CookieSecure: cfg.CookieSecure, HashConcurrency: cfg.HashConcurrency,
		LoginThrottle: cfg.LoginThrottle,
	})
	if err != nil {
		return nil, err
	}
	workspaces, err := workspace.New(workspace.Config{
		Pool: cfg.Pool, Logger: cfg.Logger, Clock: cfg.Clock, Checker: checker,
		Accounts: accounts, InviteTTL: cfg.InviteTTL,
	})
	if err != nil {
		return nil, err
	}

	a := &API{
		log: cfg.Logger, mux: http.NewServeMux(), checker: checker, accounts: accounts, workspaces: workspaces,
		signupLimit: newLimiter(cfg.SignupLimit, cfg.Clock), loginLimit: newLimiter(cfg.LoginLimit, cfg.Clock),
		clients: clientip.New(cfg.TrustedProxies),
	}
	a.huma = humago.New(a.mux, hConfig(cfg))
	a.huma.UseMiddleware(a.emptyQueryValues, a.rateLimitMiddleware, a.sessionMiddleware)
	registerDocs(a.mux)
	a.registerOpenAPIDocs()
	a.mux.HandleFunc("/", a.noRoute)
	account.Register(a.huma, account.Deps{Accounts: accounts})
	workspace.Register(a.huma, workspace.Deps{Workspaces: workspaces, Accounts: accounts})
	a.handler = withRequest(a.shadowedMethods(a.mux), cfg.Logger, cfg.Clock)
	return a, nil
}

// hConfig is the Huma configuration: OpenAPI 3.1 at /openapi.json, Huma's CDN docs page
// off (registerDocs serves offline ones), unknown body fields rejected (Huma's registry
// default, kept), bodies capped, session security schemes declared.
func hConfig(cfg Config) huma.Config {
	c := huma.DefaultConfig("Steller control plane", cfg.Version)
	c.Info.Description = "Partner accounts, workspaces, API keys, webhooks, request logs and usage, and the platform admins' operations. " + errorsNote
	c.DocsPath = ""
	c.OpenAPIPath = "/openapi"
	c.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"sessionBearer": {Type: "http", Scheme: "bearer", Description: "A session token from signup or login."},
		"sessionCookie": {Type: "apiKey", In: "cookie", Name: account.CookieName, Description: "The portal's session cookie."},
	}
	c.Transformers = append(c.Transformers, addRequestID)
	limit := cfg.MaxBodyBytes
	c.OnAddOperation = append(c.OnAddOperation, func(oapi *huma.OpenAPI, op *huma.Operation) {
		if op.RequestBody != nil {
			op.MaxBodyBytes = limit
		}
		documentCommonErrors(op)
		nullableOptionals(oapi, op)
		documentNoNUL(op)
	})
	return c
}

// routeMethods are the methods noRoute tries when a path has no route for the request's.
var routeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// noRoute answers what no route serves with a problem: 405 naming the allowed methods when
// the path exists for other methods, 404 otherwise (the mux's own answers are plain text).
func (a *API) noRoute(w http.ResponseWriter, r *http.Request) {
	// The path's resource is the most specific route pattern any method reaches
	// (POST /v1/admin/policies/rollback, not GET /v1/admin/policies/{id}); only the methods
	// of that pattern are allowed.
	var allowed []string
	best := ""
	for _, m := range routeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		_, pattern := a.mux.Handler(probe)
		_, path, _ := strings.Cut(pattern, " ")
		if pattern == "" || path == "" || pattern == "/" {
			continue
		}
		switch {
		case best == "" || strings.Count(path, "{") < strings.Count(best, "{"):
			best, allowed = path, []string{m}
		case path == best:
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		methodNotAllowed(w, r.Method, allowed)
		return
	}
	problem.Write(w, problem.New(http.StatusNotFound, problem.StatusCode(http.StatusNotFound), "Not Found",
		"no such path: /openapi.json lists the API's operations", ""))
}

// methodNotAllowed answers 405 with the Allow header naming allowed.
func methodNotAllowed(w http.ResponseWriter, method string, allowed []string) {
	list := strings.Join(allowed, ", ")
	w.Header().Set("Allow", list)
	problem.Write(w, problem.New(http.StatusMethodNotAllowed, problem.StatusCode(http.StatusMethodNotAllowed),
		"Method Not Allowed", method+" is not allowed here; allowed: "+list, ""))
}

// documentCommonErrors declares on op the problems any operation can answer, whatever its
// handler: 400 (a NUL byte or invalid UTF-8 in the URL, a body that is not JSON) and 500.
// An operation that documents only a default error response already covers them.
func documentCommonErrors(op *huma.Operation) {
	var media *huma.MediaType
	for _, r := range op.Responses {
		if m, ok := r.Content[problem.ContentType]; ok {
			media = m
			break
		}
	}
	if media == nil || op.Responses["default"] != nil {
		return
	}
	for _, status := range []int{http.StatusBadRequest, http.StatusInternalServerError} {
		key := strconv.Itoa(status)
		if op.Responses[key] == nil {
			op.Responses[key] = &huma.Response{
				Description: http.StatusText(status),
				Content:     map[string]*huma.MediaType{problem.ContentType: media},
			}
		}
	}
}

// Huma returns the Huma API, for registering the other resource packages' operations.
func (a *API) Huma() huma.API { return a.huma }

// Handler returns the HTTP handler serving the whole API, docs and OpenAPI document.
func (a *API) Handler() http.Handler { return a.handler }

// Mux returns the ServeMux under Handler, for mounting non-Huma routes (health, metrics,
// the portal) that should share the request-id middleware.
func (a *API) Mux() *http.ServeMux { return a.mux }

// Checker returns the RBAC checker the other resource packages authorize with.
func (a *API) Checker() rbac.Checker { return a.checker }

// Accounts returns the account service (sessions, password hashing).
func (a *API) Accounts() *account.Service { return a.accounts }

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is embedded at build time
	}
	return sub
}
