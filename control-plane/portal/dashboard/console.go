package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/steller/platform/control-plane/console"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/rbac"
	"github.com/steller/platform/control-plane/sandbox"
	"github.com/steller/platform/control-plane/webhook"
)

// Console defaults: the API's (console.TestOrderBody).
const (
	defaultProduct = "sbx_amazing_books"
	defaultAmount  = "25.00"
	maxAmountCents = 100_000_000
)

// amountPattern is an amount in dollars with at most two decimals.
var amountPattern = regexp.MustCompile(`^[0-9]{1,7}(\.[0-9]{1,2})?$`)

// requestIDPattern is what a request id the webhook panel looks up may be.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)

// consoleData is the console page's.
type consoleData struct {
	CSRF     string
	Products []sandbox.Product
	Product  string
	Amount   string
	Errors   map[string]string
	Problem  string
	// Result is the placed order's, after a send.
	Result *orderView
}

// orderView is a sent test order as the page shows it.
type orderView struct {
	Curl      string
	RequestID string
	Status    int
	Response  string
	// OrderID and OrderStatus are read from the response when it is an order.
	OrderID, OrderStatus string
	// LogsPage is the request's page in the log explorer and LogsPath its API path (roles
	// that may read logs).
	LogsPage, LogsPath string
	Webhooks           webhookPanel
}

// webhookPanel is what the test order's webhooks look like so far.
type webhookPanel struct {
	RequestID string
	// Hidden: the member may not manage webhooks.
	Hidden bool
	// Endpoints counts the workspace's enabled test endpoints; none gets a hint.
	Endpoints  int
	Deliveries []webhook.DeliveryDetail
}

func (d *Dashboard) consoleForm(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.KeysManage)
	if m == nil {
		return
	}
	d.renderConsole(w, r, m, http.StatusOK, consoleData{Product: defaultProduct, Amount: defaultAmount})
}

func (d *Dashboard) renderConsole(w http.ResponseWriter, r *http.Request, m *member, status int, data consoleData) {
	data.CSRF = m.CSRF("/app/console")
	data.Products = sandbox.Catalog()
	d.render(w, r, status, "console", d.newView("Console", "console", m, data))
}

// consoleOrder places the test order (POST /v1/console/test-order's authorization:
// keys.manage, since the console mints a key) and shows what happened.
func (d *Dashboard) consoleOrder(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.KeysManage)
	if m == nil || !d.checkForm(w, r, m, m.token) {
		return
	}
	data := consoleData{Product: r.PostForm.Get("product_id"), Amount: strings.TrimSpace(r.PostForm.Get("amount")), Errors: map[string]string{}}
	if !inCatalog(data.Product) {
		data.Errors["product_id"] = "choose one of the sandbox's products"
		data.Product = defaultProduct
	}
	cents, err := parseAmount(data.Amount)
	if err != nil {
		data.Errors["amount"] = err.Error()
		data.Amount = strings.ToValidUTF8(strings.ReplaceAll(data.Amount, "\x00", ""), "")
	}
	if len(data.Errors) > 0 {
		d.renderConsole(w, r, m, http.StatusUnprocessableEntity, data)
		return
	}
	order := console.Order{ProductID: data.Product, AmountCents: cents}
	res, err := d.cfg.Console.PlaceTestOrder(r.Context(), m.Principal, order)
	if err != nil {
		var fe *fault.Error
		status, _, known := fault.KindCode(err)
		if !known || !errors.As(err, &fe) || status == http.StatusInternalServerError {
			d.fail(w, r, m, err)
			return
		}
		if fe.RetryAfter > 0 {
			w.Header().Set("Retry-After", retryAfter(fe.RetryAfter))
		}
		data.Problem = fe.Message
		d.renderConsole(w, r, m, status, data)
		return
	}
	view := &orderView{Curl: d.curl(order), RequestID: res.RequestID, Status: res.Status, Response: pretty(res.Body)}
	var body struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if json.Unmarshal(res.Body, &body) == nil && strings.HasPrefix(body.ID, "ord") {
		view.OrderID, view.OrderStatus = body.ID, body.Status
	}
	if m.MayLogs && res.RequestID != "" {
		view.LogsPage, view.LogsPath = "/app/logs/"+url.PathEscape(res.RequestID), "/v1/logs/"+url.PathEscape(res.RequestID)
	}
	if view.Webhooks, err = d.webhooks(r, m, res.RequestID); err != nil {
		d.fail(w, r, m, err)
		return
	}
	data.Result = view
	d.renderConsole(w, r, m, http.StatusOK, data)
}

// consoleWebhooks shows the webhook deliveries a test order's request caused so far (the
// order completes a few seconds after it is placed).
func (d *Dashboard) consoleWebhooks(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.KeysManage)
	if m == nil {
		return
	}
	id := r.URL.Query().Get("request_id")
	if !requestIDPattern.MatchString(id) {
		d.problem(w, r, m, http.StatusBadRequest, "Bad request", "request_id must be the request id of a console order.")
		return
	}
	panel, err := d.webhooks(r, m, id)
	if err != nil {
		d.fail(w, r, m, err)
		return
	}
	d.render(w, r, http.StatusOK, "console_webhooks", d.newView("Test order webhooks", "console", m, panel))
}

// webhooks reads the panel for requestID, with the webhook API's authorization
// (webhooks.manage): members who may not see no endpoints or deliveries.
func (d *Dashboard) webhooks(r *http.Request, m *member, requestID string) (webhookPanel, error) {
	panel := webhookPanel{RequestID: requestID}
	ok, err := d.may(r, m.Principal, rbac.WebhooksManage)
	if err != nil || !ok {
		panel.Hidden = true
		return panel, err
	}
	eps, err := d.cfg.Webhooks.ListEndpoints(r.Context(), m.Principal, "", 100)
	if err != nil {
		return panel, err
	}
	for _, e := range eps.Endpoints {
		if e.Enabled && e.Environment == "test" {
			panel.Endpoints++
		}
	}
	if requestID == "" {
		return panel, nil
	}
	ds, err := d.cfg.Webhooks.DeliveriesForRequest(r.Context(), m.Principal, requestID)
	if err != nil {
		return panel, err
	}
	for _, del := range ds {
		detail, err := d.cfg.Webhooks.DeliveryWithAttempts(r.Context(), m.Principal, del.ID)
		if err != nil {
			return panel, err
		}
		panel.Deliveries = append(panel.Deliveries, detail)
	}
	return panel, nil
}

// curl is the console's request as a partner's code would send it (the temporary key
// is revoked and never shown).
func (d *Dashboard) curl(o console.Order) string {
	edge := strings.TrimRight(d.cfg.EdgeURL(), "/")
	if edge == "" {
		edge = "$EDGE"
	}
	body, _ := json.Marshal(o)
	return fmt.Sprintf("curl -s -X POST %s/v1/orders \\\n  -H 'Authorization: Bearer sk_test_…' \\\n"+
		"  -H 'Idempotency-Key: <a new key per order>' \\\n  -H 'Content-Type: application/json' \\\n  -d '%s'", edge, body)
}

func inCatalog(id string) bool {
	for _, p := range sandbox.Catalog() {
		if p.ID == id {
			return true
		}
	}
	return false
}

// parseAmount reads an amount in dollars ("25", "25.5", "25.50") as cents.
func parseAmount(s string) (int64, error) {
	if !amountPattern.MatchString(s) {
		return 0, errors.New("enter an amount in dollars, such as 25.00")
	}
	whole, frac, _ := strings.Cut(s, ".")
	frac = (frac + "00")[:2]
	d, _ := strconv.ParseInt(whole, 10, 64)
	c, _ := strconv.ParseInt(frac, 10, 64)
	cents := d*100 + c
	if cents < 1 || cents > maxAmountCents {
		return 0, errors.New("must be between $0.01 and $1,000,000.00")
	}
	return cents, nil
}

// pretty indents a JSON answer for reading.
func pretty(raw []byte) string {
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}
