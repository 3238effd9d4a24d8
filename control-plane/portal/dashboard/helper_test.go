package dashboard_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/api/apitest"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/console"
	"github.com/steller/platform/control-plane/explorer"
	"github.com/steller/platform/control-plane/ident"
	"github.com/steller/platform/control-plane/onboarding"
	"github.com/steller/platform/control-plane/portal"
	"github.com/steller/platform/control-plane/portal/dashboard"
	"github.com/steller/platform/control-plane/sandbox"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/testenv"
)

// edgeSecret signs the test edge's identity headers for the sandbox vendor.
const edgeSecret = "esig_dashboard-tests-edge-signing-secret-0000"

// env is one test's control plane: the API with the portal and the dashboard mounted on
// its own databases (PostgreSQL, and ClickHouse for the request logs), a real webhook service and delivery worker, the real sandbox vendor
// behind a small edge that checks the console's keys in the database (as edge sync would
// let the real edge do), and a webhook receiver.
type env struct {
	*apitest.Env
	srv      *httptest.Server
	edge     *httptest.Server
	hooks    *webhook.Service
	receiver *receiver
	// ch holds the request logs the log explorer reads (its own database).
	ch testenv.ClickHouse
}

// setup builds the env; edit may change the API's config (limits, cookie flags).
func setup(t testing.TB, edit ...func(*api.Config)) *env {
	t.Helper()
	e := &env{Env: apitest.New(t, edit...), receiver: &receiver{}}
	var cfg api.Config // what edit sets, for the dashboard's own settings
	for _, f := range edit {
		f(&cfg)
	}
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	keys, err := apikey.New(apikey.Config{Pool: e.Pool, Logger: log})
	require.NoError(t, err)

	require.NoError(t, webhook.MigrateQueue(ctx, e.Pool))
	guard := webhook.Guard{AllowPrivateNetworks: true} // the receiver listens on loopback
	worker, err := webhook.NewWorker(webhook.WorkerConfig{Pool: e.Pool, Logger: log, Guard: guard})
	require.NoError(t, err)
	queue, err := webhook.NewClient(webhook.ClientConfig{Pool: e.Pool, Logger: log, Worker: worker})
	require.NoError(t, err)
	require.NoError(t, queue.Start(ctx))
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = queue.Stop(stop)
	})
	e.hooks, err = webhook.New(webhook.Config{Pool: e.Pool, Queue: queue, Logger: log,
		URLs: webhook.URLPolicy{AllowHTTPForTest: true, Guard: guard}})
	require.NoError(t, err)

	verifier, err := edgesign.NewVerifier(edgesign.VerifierConfig{Secrets: []string{edgeSecret}})
	require.NoError(t, err)
	vendor, err := sandbox.New(sandbox.Config{Pool: e.Pool, Verifier: verifier, Logger: log,
		Publisher: dispatch{e.hooks}, CompletionDelay: 300 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = vendor.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	signer, err := edgesign.NewSigner([]string{edgeSecret})
	require.NoError(t, err)
	e.edge = httptest.NewServer(&testEdge{pool: e.Env, signer: signer, vendor: vendor.Handler()})
	t.Cleanup(e.edge.Close)

	progress, err := onboarding.New(onboarding.Config{Milestones: e.Pool, Activity: noActivity{}})
	require.NoError(t, err)
	con, err := console.New(console.Config{Keys: keys, Logger: log, EdgeURL: func() string { return e.edge.URL }})
	require.NoError(t, err)
	e.ch = testenv.NewClickHouse(t)
	require.NoError(t, schema.Migrate(ctx, e.ch.Conn, e.ch.Database))
	logs, err := logquery.New(e.ch.Conn, e.ch.Database)
	require.NoError(t, err)
	site, err := portal.New(portal.Config{Version: "test", EdgeURL: func() string { return e.edge.URL }})
	require.NoError(t, err)
	site.Register(e.API.Mux())
	app, err := dashboard.New(dashboard.Config{Accounts: e.API.Accounts(), RBAC: e.API.Checker(), Onboarding: progress,
		Console: con, Webhooks: e.hooks, Keys: keys, Logs: explorer.Deps{Store: logs, Deliveries: e.hooks, RBAC: e.API.Checker()}, Limit: e.API.Allow, CookieSecure: cfg.CookieSecure, EdgeURL: func() string { return e.edge.URL }, Version: "test"})
	require.NoError(t, err)
	app.Register(e.API.Mux())
	e.srv = httptest.NewServer(e.API.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// noActivity is a request log with no failures (the stuck hint reads ClickHouse, not
// part of these pages' tests).
type noActivity struct{}

func (noActivity) Stuck(context.Context, string, time.Time) (logquery.Stuck, error) {
	return logquery.Stuck{}, nil
}

// dispatch hands the sandbox's order events to the webhook service, as the dispatcher
// does from Kafka.
type dispatch struct{ hooks *webhook.Service }

func (d dispatch) Publish(ctx context.Context, events ...orderevent.Event) error {
	for _, ev := range events {
		raw, err := orderevent.Encode(ev)
		if err != nil {
			return err
		}
		if _, err := d.hooks.HandleOrderEvent(ctx, raw); err != nil {
			return err
		}
	}
	return nil
}

// testEdge is the part of the edge the console needs: it finds the presented test key by
// its hash among the active keys, mints the request id, signs the identity and forwards to
// the sandbox vendor.
type testEdge struct {
	pool   *apitest.Env
	signer *edgesign.Signer
	vendor http.Handler
}

func (g *testEdge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	secret := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	hash := keyformat.HashOf(secret)
	id := edgesign.Identity{Method: r.Method, Path: r.URL.Path, RequestID: "req_" + ident.New("e")[2:]}
	err := g.pool.Pool.QueryRow(r.Context(), `SELECT id, partner_id, workspace_id, environment FROM api_keys
WHERE hash = $1 AND status = 'active' AND environment = 'test'`, hash[:]).Scan(&id.KeyID, &id.PartnerID, &id.WorkspaceID, &id.Environment)
	w.Header().Set(identity.HeaderRequestID, id.RequestID)
	if errors.Is(err, pgx.ErrNoRows) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"status":401,"code":"invalid_key","title":"Unauthorized"}`)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	r.Header.Del("Authorization")
	r.Header.Set(identity.HeaderRequestID, id.RequestID)
	r.Header.Set(identity.HeaderPartnerID, id.PartnerID)
	r.Header.Set(identity.HeaderWorkspaceID, id.WorkspaceID)
	r.Header.Set(identity.HeaderEnvironment, id.Environment)
	r.Header.Set(identity.HeaderKeyID, id.KeyID)
	r.Header.Set(identity.HeaderSignature, g.signer.Sign(&id, time.Now()))
	g.vendor.ServeHTTP(w, r)
}

// receiver is a webhook endpoint that keeps the headers of what it received.
type receiver struct {
	mu  sync.Mutex
	got []http.Header
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.got = append(rc.got, r.Header.Clone())
	rc.mu.Unlock()
	_, _ = io.WriteString(w, "ok")
}

func (rc *receiver) headers() []http.Header {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]http.Header(nil), rc.got...)
}

// addEndpoint gives the partner of ownerEmail a test webhook endpoint at the receiver,
// through the webhook service, for tests about other pages (the webhooks page has its own).
func (e *env) addEndpoint(t testing.TB, ownerEmail string) {
	t.Helper()
	hook := httptest.NewServer(e.receiver)
	t.Cleanup(hook.Close)
	var p auth.Principal
	require.NoError(t, e.Pool.QueryRow(context.Background(), `SELECT u.id, m.workspace_id, w.partner_id, m.role
FROM users u JOIN memberships m ON m.user_id = u.id JOIN workspaces w ON w.id = m.workspace_id WHERE u.email = $1`,
		ownerEmail).Scan(&p.ID, &p.WorkspaceID, &p.PartnerID, &p.Role))
	p.Kind = auth.KindUser
	_, _, err := e.hooks.CreateEndpoint(context.Background(), p, webhook.EndpointSettings{URL: hook.URL + "/hooks",
		Environment: "test", EventTypes: []string{"order.completed", "order.failed"}, Enabled: true})
	require.NoError(t, err)
}

// visitor is an HTTP client with a cookie jar that does not follow redirects.
type visitor struct {
	t      testing.TB
	base   string
	client *http.Client
}

func (e *env) visitor(t testing.TB) *visitor {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &visitor{t: t, base: e.srv.URL, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is a response with its body read.
type page struct {
	*http.Response
	Body string
}

func (b *visitor) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return page{Response: resp, Body: string(body)}
}

func (b *visitor) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	require.NoError(b.t, err)
	return b.do(req)
}

// post sends form to path as a same-origin form submission does.
func (b *visitor) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

var csrfField = regexp.MustCompile(`action="([^"]+)" method="post"[^>]*>\s*<input type="hidden" name="csrf_token" value="([^"]+)"`)

// token returns the CSRF token of the form posting to action on p.
func token(t testing.TB, p page, action string) string {
	t.Helper()
	for _, m := range csrfField.FindAllStringSubmatch(p.Body, -1) {
		if m[1] == action {
			return m[2]
		}
	}
	t.Fatalf("no form posting to %s on the page:\n%s", action, p.Body)
	return ""
}

// signup signs a new partner up through the form and returns its owner's e-mail.
func (b *visitor) signup(company string) string {
	b.t.Helper()
	form := b.get("/signup")
	email := strings.ToLower(strings.ReplaceAll(company, " ", "")) + "-" + ident.New("e")[2:10] + "@example.com"
	res := b.post("/signup", url.Values{dashboard.CSRFField: {token(b.t, form, "/signup")}, "company": {company},
		"name": {"Ada Owner"}, "email": {email}, "password": {apitest.Password}})
	require.Equal(b.t, http.StatusSeeOther, res.StatusCode, res.Body)
	return email
}

// cookie returns the Set-Cookie of name in resp.
func cookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// sessionCookie puts a session token (apitest's AddMember) in b's jar.
func (b *visitor) sessionCookie(token string) {
	u, _ := url.Parse(b.base)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: account.CookieName, Value: token, Path: "/"}})
}
