// Package dashboard owns the partner's signed-in portal pages: the signup, sign-in and
// sign-out forms, the dashboard at /app with the onboarding checklist, the console at
// /app/console that generates a test gift card, the log explorer at /app/logs (a request's
// page at /app/logs/{request_id}), the webhooks pages at /app/webhooks and the keys pages
// at /app/keys. Pages are rendered on the server with html/template in the portal's layout
// (portal.Layout) and work without JavaScript. They
// are views over the same services the API uses, called in process (account, onboarding,
// console, webhook, explorer), and every page action is authorized with the API's RBAC checker for
// the principal of the steller_session cookie, the cookie the API sets and reads.
//
// # Cross-site request forgery
//
// Every state-changing request is a POST defended twice:
//
//   - net/http.CrossOriginProtection refuses browser requests that Sec-Fetch-Site (or
//     Origin against Host) marks as cross-origin. It needs no state and is what the Go
//     team recommends, but it lets through requests without those headers (old browsers,
//     non-browser clients), so it is not relied on alone.
//   - Every form carries a per-form token: HMAC-SHA256, keyed by a secret the browser
//     holds in an HttpOnly cookie, over the form's action path. The signed-in forms key it
//     with the session token itself (so a token dies with its session, and tokens of one
//     form are useless at another); the signup and sign-in forms, which have no session
//     yet, key it with a random pre-session cookie (steller_csrf). An attacker on another
//     site can neither read the cookie nor the page, so cannot forge the token. Keying by
//     the browser's own secret instead of a server secret needs no key to configure, share
//     between replicas or rotate, and the token never reveals the cookie (HMAC is one-way).
//
// A POST without a valid token is refused with 403 before any service is called.
package dashboard

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/console"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/onboarding"
	"github.com/steller/platform/control-plane/portal"
	"github.com/steller/platform/control-plane/rbac"
	"github.com/steller/platform/control-plane/webhook"
)

//go:embed templates/*.html
var templateFiles embed.FS

// maxFormBytes bounds a form's body; the forms are a few short fields.
const maxFormBytes = 64 << 10

// Limiter counts one attempt of an API operation (account.OpSignup, account.OpLogin) from
// r's client against the API's per-IP limit, so the pages and the API share one budget;
// false carries the wait (api.API.Allow).
type Limiter func(op string, r *http.Request) (ok bool, retryAfter time.Duration)

// Config holds the Dashboard's services.
type Config struct {
	// Accounts signs partners up and in, and checks sessions (required).
	Accounts *account.Service
	// RBAC authorizes every page action, as the API's operations do (required).
	RBAC rbac.Checker
	// Onboarding computes the checklist (required).
	Onboarding *onboarding.Service
	// Console places test orders (required).
	Console *console.Console
	// Webhooks reads the workspace's endpoints and the deliveries a test order caused
	// (required).
	Webhooks *webhook.Service
	// Keys lists, creates, rolls and revokes the workspace's API keys (required).
	Keys *apikey.Service
	// Logs reads the partner's request logs for the log explorer (required).
	Logs LogExplorer
	// Limit applies the API's per-IP sign-up and sign-in limits; nil applies none.
	Limit Limiter
	// CookieSecure marks the pre-session cookie Secure, like the session cookie
	// (account.Config.CookieSecure).
	CookieSecure bool
	// EdgeURL is the edge partners call, shown in the console's curl (required).
	EdgeURL func() string
	// Version is the build's version (asset cache busting).
	Version string
	// Logger records failures; default discards.
	Logger *slog.Logger
}

// Dashboard serves the signed-in pages.
type Dashboard struct {
	cfg   Config
	pages *template.Template
	cop   *http.CrossOriginProtection
}

// New checks cfg and parses the pages into the portal's layout.
func New(cfg Config) (*Dashboard, error) {
	if cfg.Accounts == nil || cfg.RBAC == nil || cfg.Onboarding == nil || cfg.Console == nil || cfg.Webhooks == nil || cfg.Keys == nil || cfg.EdgeURL == nil {
		return nil, errors.New("dashboard: Accounts, RBAC, Onboarding, Console, Webhooks, Keys and EdgeURL are required")
	}
	if cfg.Logs == nil {
		return nil, errors.New("dashboard: Logs is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Limit == nil {
		cfg.Limit = func(string, *http.Request) (bool, time.Duration) { return true, 0 }
	}
	layout, err := portal.Layout()
	if err != nil {
		return nil, err
	}
	pages, err := layout.Funcs(funcs).ParseFS(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard: templates: %w", err)
	}
	d := &Dashboard{cfg: cfg, pages: pages, cop: http.NewCrossOriginProtection()}
	d.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.problem(w, r, nil, http.StatusForbidden, "Request refused",
			"This form was sent from another site. Open the page on this site and send it again.")
	}))
	return d, nil
}

// Register adds the pages to mux: /signup, /login, POST /logout, /app, /app/console,
// /app/logs, /app/webhooks and /app/keys.
func (d *Dashboard) Register(mux *http.ServeMux) {
	handle := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, d.cop.Handler(h)) }
	handle("GET /signup", d.signupForm)
	handle("POST /signup", d.signup)
	handle("GET /login", d.loginForm)
	handle("POST /login", d.login)
	handle("POST /logout", d.logout)
	handle("GET /app", d.home)
	handle("GET /app/{$}", d.home)
	handle("GET /app/console", d.consoleForm)
	handle("POST /app/console", d.consoleOrder)
	handle("GET /app/console/webhooks", d.consoleWebhooks)
	handle("GET /app/logs", d.logs)
	handle("GET /app/logs/{request_id}", d.logRequest)
	handle("GET /app/webhooks", d.hooksList)
	handle("POST /app/webhooks", d.hooksCreate)
	handle("GET /app/webhooks/{id}", d.hooksEndpoint)
	handle("POST /app/webhooks/{id}", d.hooksUpdate)
	handle("POST /app/webhooks/{id}/enable", d.hooksEnable)
	handle("POST /app/webhooks/{id}/disable", d.hooksDisable)
	handle("GET /app/webhooks/{id}/delete", d.hooksDeleteForm)
	handle("POST /app/webhooks/{id}/delete", d.hooksDelete)
	handle("POST /app/webhooks/{id}/test", d.hooksTest)
	handle("POST /app/webhooks/{id}/rotate-secret", d.hooksRotate)
	handle("POST /app/webhooks/{id}/redeliver-failed", d.hooksRedeliverFailed)
	handle("GET /app/webhooks/{id}/deliveries/{did}", d.hooksDelivery)
	handle("POST /app/webhooks/{id}/deliveries/{did}/redeliver", d.hooksRedeliver)
	handle("GET /app/keys", d.keys)
	handle("POST /app/keys", d.createKey)
	handle("GET /app/keys/new", d.newKeyForm)
	handle("GET /app/keys/{id}/roll", d.rollForm)
	handle("POST /app/keys/{id}/roll", d.rollKey)
	handle("GET /app/keys/{id}/revoke", d.revokeForm)
	handle("POST /app/keys/{id}/revoke", d.revokeKey)
}

// view is what every page's template gets: the layout's fields, the signed-in member (nil
// on the public forms) and the page's own data.
type view struct {
	Title, Description, Version, Section, Query string
	// Member is the signed-in member, for the top bar.
	Member *member
	// Data is the page's own.
	Data any
}

// member is the signed-in caller as the pages need it.
type member struct {
	auth.Principal
	Me account.Me
	// Token is the session token (the CSRF binding of the signed-in forms); never rendered.
	token string
	// MayConsole, MayLogs, MayWebhooks and MayKeys gate the navigation (keys.manage,
	// logs.read, webhooks.manage, keys.read).
	MayConsole, MayLogs, MayWebhooks, MayKeys bool
}

// CSRF returns the token of the signed-in form posting to action.
func (m *member) CSRF(action string) string { return csrfToken(m.token, action) }

func (d *Dashboard) newView(title, section string, m *member, data any) view {
	return view{Title: title, Description: "Your Steller partner account.", Version: d.cfg.Version, Section: section, Member: m, Data: data}
}

// render writes template name with v and status, with the portal's security headers; pages
// that show a session's data are never cached.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	var b bytes.Buffer
	if err := d.pages.ExecuteTemplate(&b, name, v); err != nil {
		d.cfg.Logger.ErrorContext(r.Context(), "dashboard: render", "template", name, "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", portal.CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// problemData is the error page's.
type problemData struct {
	Status           int
	Heading, Message string
	RequestID        string
}

// problem renders an error page.
func (d *Dashboard) problem(w http.ResponseWriter, r *http.Request, m *member, status int, heading, message string) {
	d.render(w, r, status, "problem", d.newView(heading, "", m,
		problemData{Status: status, Heading: heading, Message: message, RequestID: fault.RequestID(r.Context())}))
}

// fail renders err as an error page: a fault with its status and message, anything else
// as a 500 whose cause is logged, never shown.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, m *member, err error) {
	status, _, known := fault.KindCode(err)
	var fe *fault.Error
	if !known || !errors.As(err, &fe) || status >= 500 && fe.Cause != nil {
		d.cfg.Logger.ErrorContext(r.Context(), "dashboard: page failed", "path", r.URL.Path, "error", err,
			"request_id", fault.RequestID(r.Context()))
	}
	if !known {
		d.problem(w, r, m, http.StatusInternalServerError, "Something went wrong",
			"The page could not be shown. Try again in a moment; if it keeps failing, tell us the request id below.")
		return
	}
	if fe != nil && fe.RetryAfter > 0 {
		w.Header().Set("Retry-After", retryAfter(fe.RetryAfter))
	}
	d.problem(w, r, m, status, http.StatusText(status), err.Error())
}

// signedIn returns the member of r's session cookie, or nil (no, or no live, session).
func (d *Dashboard) signedIn(r *http.Request) (*member, error) {
	c, err := r.Cookie(account.CookieName)
	if err != nil {
		return nil, nil
	}
	token := account.TokenFrom("", c.Value)
	if token == "" {
		return nil, nil
	}
	p, err := d.cfg.Accounts.Authenticate(r.Context(), token)
	if errors.Is(err, fault.ErrUnauthorized) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := &member{Principal: p, token: token}
	if p.Kind != auth.KindUser {
		return m, nil
	}
	if m.Me, err = d.cfg.Accounts.Me(r.Context(), p); err != nil {
		if errors.Is(err, fault.ErrUnauthorized) {
			return nil, nil
		}
		return nil, err
	}
	if m.MayConsole, err = d.may(r, p, rbac.KeysManage); err != nil {
		return nil, err
	}
	if m.MayLogs, err = d.may(r, p, rbac.LogsRead); err != nil {
		return nil, err
	}
	if m.MayWebhooks, err = d.may(r, p, rbac.WebhooksManage); err != nil {
		return nil, err
	}
	if m.MayKeys, err = d.may(r, p, rbac.KeysRead); err != nil {
		return nil, err
	}
	return m, nil
}

// may reports whether p may perform action; a policy that cannot decide is an error.
func (d *Dashboard) may(r *http.Request, p auth.Principal, action string) (bool, error) {
	err := d.cfg.RBAC.Check(r.Context(), p, action)
	if errors.Is(err, fault.ErrForbidden) {
		return false, nil
	}
	return err == nil, err
}

// authorize returns the signed-in workspace member allowed to perform action. Otherwise it
// answers itself and returns nil: a browser without a session goes to the sign-in page
// (coming back to this page after), a member whose role may not gets a 403 page.
func (d *Dashboard) authorize(w http.ResponseWriter, r *http.Request, action string) *member {
	m, err := d.signedIn(r)
	if err != nil {
		d.fail(w, r, nil, err)
		return nil
	}
	if m == nil {
		next := r.URL.Path
		if r.Method == http.MethodGet && r.URL.RawQuery != "" {
			next += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, "/login?next="+urlQueryEscape(next), http.StatusSeeOther)
		return nil
	}
	if m.Kind != auth.KindUser || m.PartnerID == "" {
		d.problem(w, r, nil, http.StatusForbidden, "Partner pages",
			"These pages belong to a partner's workspace: sign in as a member of one.")
		return nil
	}
	if err := d.cfg.RBAC.Check(r.Context(), m.Principal, action); err != nil {
		d.fail(w, r, m, err)
		return nil
	}
	return m
}

// checkForm parses r's form (bounded) and checks its CSRF token for binding; on failure it
// answers (400 or 403) and returns false, before anything is changed.
func (d *Dashboard) checkForm(w http.ResponseWriter, r *http.Request, m *member, binding string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		d.problem(w, r, m, http.StatusBadRequest, "Bad request", "The form could not be read. Open the page again and resend it.")
		return false
	}
	if !validCSRF(binding, r.URL.Path, r.PostForm.Get(CSRFField)) {
		d.problem(w, r, m, http.StatusForbidden, "Request refused",
			"This form has expired or did not come from this site. Open the page again and send it from there.")
		return false
	}
	return true
}
