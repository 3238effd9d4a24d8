package dashboard

import (
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/rbac"
	"github.com/steller/platform/control-plane/webhook"
)

// The webhooks pages (/app/webhooks/…) are views over the webhook service with the
// authorization of the API's webhook operations: every one needs webhooks.manage, which
// Owner and Developer hold and Finance does not.

const (
	hooksPath = "/app/webhooks"
	// hooksPageSize is how many endpoints or deliveries one page lists.
	hooksPageSize     = 20
	endpointsPageSize = 100
	// The API's schema bounds (webhook.CreateEndpointBody).
	maxURLLen         = 2048
	maxDescriptionLen = 500
	// sinceLayout is a datetime-local input's value (seconds optional).
	sinceLayout        = "2006-01-02T15:04"
	sinceLayoutSeconds = "2006-01-02T15:04:05"
)

// hookIDPattern is what an endpoint or delivery id in a page's path may be.
var hookIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// overlaps are the rotation overlaps the form offers, by their value.
var overlaps = []overlapChoice{
	{"0s", "None: the old secret stops signing now"},
	{"1h", "1 hour"},
	{"24h", "24 hours"},
	{"72h", "3 days"},
	{"168h", "7 days (the most)"},
}

// overlapChoice is one option of the rotation form.
type overlapChoice struct{ Value, Label string }

// endpointForm is the create or edit form as typed, with its errors.
type endpointForm struct {
	URL, Environment, Description string
	EventTypes                    []string
	Errors                        map[string]string
	Problem                       string
}

// Subscribed reports whether the form has event type t ticked.
func (f endpointForm) Subscribed(t string) bool { return slices.Contains(f.EventTypes, t) }

// hooksData is /app/webhooks's.
type hooksData struct {
	Endpoints  []webhook.Endpoint
	NextCursor string
	// Disabled are the endpoints Steller turned off (the banner).
	Disabled []webhook.Endpoint
	// Deleted: an endpoint was just deleted.
	Deleted    bool
	Form       endpointForm
	EventTypes []string
}

// endpointData is an endpoint's page.
type endpointData struct {
	Endpoint webhook.Endpoint
	// Secret is the whsec_ secret just created or rotated to, shown this once.
	Secret            string
	Created, Rotated  bool
	RotationActive    bool
	Form              endpointForm
	EventTypes        []string
	Overlaps          []overlapChoice
	Overlap           string
	Deliveries        []webhook.Delivery
	NextCursor        string
	Since, SinceError string
	// Requeued is how many failed deliveries were queued again, shown when ShowRequeued.
	Requeued     int
	ShowRequeued bool
	Problem      string
}

// deliveryData is a delivery's page.
type deliveryData struct {
	Endpoint webhook.Endpoint
	Delivery webhook.DeliveryDetail
	Problem  string
	Sent     bool
}

// disabledBySteller keeps the endpoints Steller turned off (410 Gone, failing for days).
func disabledBySteller(eps []webhook.Endpoint) []webhook.Endpoint {
	var out []webhook.Endpoint
	for _, e := range eps {
		if !e.Enabled && e.DisabledReason != "" {
			out = append(out, e)
		}
	}
	return out
}

// hookEndpoint authorizes webhooks.manage and reads the endpoint of the path's {id}; on
// failure it has answered and returns nil.
func (d *Dashboard) hookEndpoint(w http.ResponseWriter, r *http.Request) (*member, *webhook.Endpoint) {
	m := d.authorize(w, r, rbac.WebhooksManage)
	if m == nil {
		return nil, nil
	}
	id := r.PathValue("id")
	if !hookIDPattern.MatchString(id) {
		d.problem(w, r, m, http.StatusNotFound, "Not found", "There is no such webhook endpoint.")
		return nil, nil
	}
	ep, err := d.cfg.Webhooks.GetEndpoint(r.Context(), m.Principal, id)
	if err != nil {
		d.fail(w, r, m, err)
		return nil, nil
	}
	return m, &ep
}

// hooksList is /app/webhooks: the endpoints, the banner of disabled ones and the create form.
func (d *Dashboard) hooksList(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.WebhooksManage)
	if m == nil {
		return
	}
	data := hooksData{Form: endpointForm{Environment: "test", EventTypes: []string{webhook.EventOrderCompleted, webhook.EventOrderFailed}}}
	data.Deleted = r.URL.Query().Get("deleted") == "1"
	d.renderHooks(w, r, m, http.StatusOK, data)
}

func (d *Dashboard) renderHooks(w http.ResponseWriter, r *http.Request, m *member, status int, data hooksData) {
	page, err := d.cfg.Webhooks.ListEndpoints(r.Context(), m.Principal, r.URL.Query().Get("cursor"), endpointsPageSize)
	if err != nil {
		d.fail(w, r, m, err)
		return
	}
	data.Endpoints, data.NextCursor, data.Disabled = page.Endpoints, page.NextCursor, disabledBySteller(page.Endpoints)
	data.EventTypes = webhook.EventTypes
	d.render(w, r, status, "webhooks", d.newView("Webhooks", "webhooks", m, data))
}

// readEndpointForm reads and checks the create or edit form against the API's schema
// (the service checks the URL's policy and the event types).
func readEndpointForm(r *http.Request, create bool) endpointForm {
	f := endpointForm{URL: strings.TrimSpace(r.PostForm.Get("url")), Description: r.PostForm.Get("description"),
		EventTypes: r.PostForm["event_types"], Environment: r.PostForm.Get("environment"), Errors: map[string]string{}}
	switch {
	case !text(f.URL) || strings.ContainsFunc(f.URL, isControl):
		f.Errors["url"] = "must be text without control characters"
	case f.URL == "":
		f.Errors["url"] = "enter the URL Steller should POST events to"
	case len(f.URL) > maxURLLen:
		f.Errors["url"] = "must be at most " + strconv.Itoa(maxURLLen) + " characters"
	}
	switch {
	case !text(f.Description) || strings.ContainsFunc(f.Description, isControl):
		f.Errors["description"] = "must be text without control characters"
	case utf8.RuneCountInString(f.Description) > maxDescriptionLen:
		f.Errors["description"] = "must be at most " + strconv.Itoa(maxDescriptionLen) + " characters"
	}
	if len(f.EventTypes) == 0 {
		f.Errors["event_types"] = "subscribe to at least one event type"
	}
	for _, t := range f.EventTypes {
		if !slices.Contains(webhook.EventTypes, t) {
			f.Errors["event_types"] = "choose among the event types listed"
		}
	}
	if create && f.Environment != "test" && f.Environment != "live" {
		f.Errors["environment"] = "choose test or live"
	}
	return cleaned(f)
}

// text reports whether s can be shown and stored: valid UTF-8 without NUL bytes.
func text(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// cleaned drops from f what cannot be shown back.
func cleaned(f endpointForm) endpointForm {
	clean := func(s string) string { return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "") }
	f.URL, f.Description = clean(f.URL), clean(f.Description)
	if f.Environment != "test" && f.Environment != "live" {
		f.Environment = "test"
	}
	var types []string
	for _, t := range f.EventTypes {
		if slices.Contains(webhook.EventTypes, t) {
			types = append(types, t)
		}
	}
	f.EventTypes = types
	return f
}

// formFault puts a service's validation error at its field of f (or the form's message)
// and returns the status to re-render with; ok is false for an error that is not the
// input's (the caller fails the page).
func formFault(f *endpointForm, err error) (status int, ok bool) {
	var fe *fault.Error
	status, _, known := fault.KindCode(err)
	if !known || status >= 500 || !errors.As(err, &fe) || status == http.StatusNotFound ||
		status == http.StatusForbidden || status == http.StatusUnauthorized {
		return 0, false
	}
	switch field := strings.TrimPrefix(fe.Field, "body."); field {
	case "url", "event_types", "environment", "description":
		f.Errors[field] = fe.Message
	default:
		f.Problem = fe.Message
	}
	return status, true
}

// hooksCreate creates an endpoint (POST /v1/webhooks/endpoints) and shows its secret once.
func (d *Dashboard) hooksCreate(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.WebhooksManage)
	if m == nil || !d.checkForm(w, r, m, m.token) {
		return
	}
	f := readEndpointForm(r, true)
	if len(f.Errors) > 0 {
		d.renderHooks(w, r, m, http.StatusUnprocessableEntity, hooksData{Form: f})
		return
	}
	ep, secret, err := d.cfg.Webhooks.CreateEndpoint(r.Context(), m.Principal, webhook.EndpointSettings{Environment: f.Environment,
		URL: f.URL, Description: f.Description, EventTypes: f.EventTypes, Enabled: true})
	if err != nil {
		status, ok := formFault(&f, err)
		if !ok {
			d.fail(w, r, m, err)
			return
		}
		d.renderHooks(w, r, m, status, hooksData{Form: f})
		return
	}
	d.renderEndpoint(w, r, m, http.StatusCreated, endpointData{Endpoint: ep, Secret: secret, Created: true})
}

// hooksEndpoint is an endpoint's page: its settings, actions and deliveries.
func (d *Dashboard) hooksEndpoint(w http.ResponseWriter, r *http.Request) {
	m, ep := d.hookEndpoint(w, r)
	if m == nil {
		return
	}
	data := endpointData{Endpoint: *ep}
	if n, err := strconv.Atoi(r.URL.Query().Get("requeued")); err == nil && n >= 0 {
		data.Requeued, data.ShowRequeued = n, true
	}
	d.renderEndpoint(w, r, m, http.StatusOK, data)
}

// renderEndpoint fills what every render of an endpoint's page shows: the edit form (as
// the endpoint is, unless data holds what was typed) and a page of its deliveries.
func (d *Dashboard) renderEndpoint(w http.ResponseWriter, r *http.Request, m *member, status int, data endpointData) {
	ep := data.Endpoint
	if data.Form.Errors == nil {
		data.Form = endpointForm{URL: ep.URL, Description: ep.Description, EventTypes: ep.EventTypes, Environment: ep.Environment}
	}
	if data.Overlap == "" {
		data.Overlap = "24h"
	}
	data.EventTypes, data.Overlaps = webhook.EventTypes, overlaps
	data.RotationActive = ep.RotationEndsAt != nil && ep.RotationEndsAt.After(time.Now())
	if data.Since == "" && data.SinceError == "" {
		data.Since = time.Now().UTC().Add(-24 * time.Hour).Format(sinceLayout)
	}
	page, err := d.cfg.Webhooks.ListDeliveries(r.Context(), m.Principal, webhook.DeliveryFilter{EndpointID: ep.ID,
		Cursor: r.URL.Query().Get("cursor"), Limit: hooksPageSize})
	if err != nil {
		d.fail(w, r, m, err)
		return
	}
	data.Deliveries, data.NextCursor = page.Deliveries, page.NextCursor
	d.render(w, r, status, "webhook_endpoint", d.newView("Webhook endpoint", "webhooks", m, data))
}

// hooksUpdate edits an endpoint's URL, event types and description (PATCH …/{id}).
func (d *Dashboard) hooksUpdate(w http.ResponseWriter, r *http.Request) {
	m, ep := d.hookEndpoint(w, r)
	if m == nil || !d.checkForm(w, r, m, m.token) {
		return
	}
	f := readEndpointForm(r, false)
	f.Environment = ep.Environment
	if len(f.Errors) > 0 {
		d.renderEndpoint(w, r, m, http.StatusUnprocessableEntity, endpointData{Endpoint: *ep, Form: f})
		return
	}
	_, err := d.cfg.Webhooks.UpdateEndpoint(r.Context(), m.Principal, ep.ID, webhook.EndpointChange{URL: &f.URL,
		Description: &f.Description, EventTypes: f.EventTypes})
	if err != nil {
		status, ok := formFault(&f, err)
		if !ok {
			d.fail(w, r, m, err)
			return
		}
		d.renderEndpoint(w, r, m, status, endpointData{Endpoint: *ep, Form: f})
		return
	}
	http.Redirect(w, r, hooksPath+"/"+ep.ID, http.StatusSeeOther)
}

// hooksEnable and hooksDisable turn an endpoint on or off (PATCH …/{id} with enabled);
// enabling clears why Steller disabled it.
func (d *Dashboard) hooksEnable(w http.ResponseWriter, r *http.Request)  { d.setEnabled(w, r, true) }
func (d *Dashboard) hooksDisable(w http.ResponseWriter, r *http.Request) { d.setEnabled(w, r, false) }

func (d *Dashboard) setEnabled(w http.ResponseWriter, r *http.Request, on bool) {
	m, ep := d.hookEndpoint(w, r)
	if m == nil || !d.checkForm(w, r, m, m.token) {
		return
	}
	if _, err := d.cfg.Webhooks.UpdateEndpoint(r.Context(), m.Principal, ep.ID, webhook.EndpointChange{Enabled: &on}); err != nil {
		d.fail(w, r, m, err)
		return
	}
	http.Redirect(w, r, hooksPath+"/"+ep.ID, http.StatusSeeOther)
}

// hooksDeleteForm asks to confirm a deletion.
func (d *Dashboard) hooksDeleteForm(w http.ResponseWriter, r *http.Request) {
	m, ep := d.hookEndpoint(w, r)
	if m == nil {
		return
	}
	d.render(w, r, http.StatusOK, "webhook_delete", d.newView("Delete webhook endpoint", "webhooks", m, ep))
}

// hooksDelete deletes an endpoint (DELETE …/{id}).
func (d *Dashboard) hooksDelete(w http.ResponseWriter, r *http.Request) {
	m, ep := d.hookEndpoint(w, r)
	if m == nil || !d.checkForm(w, r, m, m.token) {
		return
	}
	if err := d.cfg.Webhooks.DeleteEndpoint(r.Context(), m.Principal, ep.ID); err != nil {
		d.fail(w, r, m, err)
		return
	}
	http.Redirect(w, r, hooksPath+"?deleted=1", http.StatusSeeOther)
}

// hooksTest sends a webhook.test event (POST …/{id}/test) and shows its delivery.
func (d *Dashboard) hooksTest(w http.ResponseWriter, r *http.Request) {
	m, ep := d.hookEndpoint(w, r)
	if m == nil || !d.checkForm(w, r, m, m.token) {
		return
	}
	dl, err := d.cfg.Webhooks.SendTest(r.Context(), m.Principal, ep.ID)
	if err != nil {
		d.fail(w, r, m, err)
		return
	}
	http.Redirect(w, r, hooksPath+"/"+ep.ID+"/deliveries/"+dl.ID+"?sent=1", http.StatusSeeOther)
}

// hooksRotate rotates the signing secret (POST …/{id}/rotate-secret) and shows the new
// one once, with until when the old one still signs.
func (d *Dashboard) hooksRotate(w http.ResponseWriter, r *http.Request) {
	m, ep := d.hookEndpoint(w, r)
	if m == nil || !d.checkForm(w, r, m, m.token) {
		return
	}
	raw := r.PostForm.Get("overlap")
	if !slices.ContainsFunc(overlaps, func(o overlapChoice) bool { return o.Value == raw }) {
		d.renderEndpoint(w, r, m, http.StatusUnprocessableEntity, endpointData{Endpoint: *ep,
			Problem: "Choose one of the overlaps offered."})
		return
	}
	overlap, _ := time.ParseDuration(raw)
	rotated, secret, err := d.cfg.Webhooks.RotateSecret(r.Context(), m.Principal, ep.ID, overlap)
	if err != nil {
		d.fail(w, r, m, err)
		return
	}
	d.renderEndpoint(w, r, m, http.StatusOK, endpointData{Endpoint: rotated, Secret: secret, Rotated: true, Overlap: raw})
}

// parseSince reads a datetime-local value as UTC, and refuses one in the future.
func parseSince(v string, now time.Time) (time.Time, error) {
	if !text(v) || len(v) > len(sinceLayoutSeconds) {
		return time.Time{}, errors.New("enter a date and time, such as 2025-01-31T09:30")
	}
	t, err := time.Parse(sinceLayout, v)
	if err != nil {
		if t, err = time.Parse(sinceLayoutSeconds, v); err != nil {
			return time.Time{}, errors.New("enter a date and time, such as 2025-01-31T09:30")
		}
	}
	if t.After(now) {
		return time.Time{}, errors.New("must not be in the future")
	}
	return t, nil
}

// hooksRedeliverFailed queues again the endpoint's failed deliveries created since a time
// (POST /v1/webhooks/deliveries/redeliver with endpoint_id).
func (d *Dashboard) hooksRedeliverFailed(w http.ResponseWriter, r *http.Request) {
	m, ep := d.hookEndpoint(w, r)
	if m == nil || !d.checkForm(w, r, m, m.token) {
		return
	}
	raw := strings.TrimSpace(r.PostForm.Get("since"))
	since, err := parseSince(raw, time.Now())
	if err != nil {
		shown := raw
		if !text(shown) || len(shown) > len(sinceLayoutSeconds) {
			shown = ""
		}
		d.renderEndpoint(w, r, m, http.StatusUnprocessableEntity, endpointData{Endpoint: *ep,
			Since: shown, SinceError: err.Error()})
		return
	}
	n, err := d.cfg.Webhooks.RedeliverFailed(r.Context(), m.Principal, since, ep.ID)
	if err != nil {
		d.fail(w, r, m, err)
		return
	}
	http.Redirect(w, r, hooksPath+"/"+ep.ID+"?requeued="+strconv.Itoa(n)+"#deliveries", http.StatusSeeOther)
}

// hookDelivery reads the path's delivery {did} of the path's endpoint {id}, with its
// attempts; on failure it has answered.
func (d *Dashboard) hookDelivery(w http.ResponseWriter, r *http.Request) (*member, *deliveryData) {
	m, ep := d.hookEndpoint(w, r)
	if m == nil {
		return nil, nil
	}
	id := r.PathValue("did")
	if !hookIDPattern.MatchString(id) {
		d.problem(w, r, m, http.StatusNotFound, "Not found", "There is no such webhook delivery.")
		return nil, nil
	}
	dl, err := d.cfg.Webhooks.DeliveryWithAttempts(r.Context(), m.Principal, id)
	if err == nil && dl.EndpointID != ep.ID {
		err = fault.New(fault.ErrNotFound, "webhook delivery not found")
	}
	if err != nil {
		d.fail(w, r, m, err)
		return nil, nil
	}
	return m, &deliveryData{Endpoint: *ep, Delivery: dl}
}

// hooksDelivery is a delivery's page, with every attempt.
func (d *Dashboard) hooksDelivery(w http.ResponseWriter, r *http.Request) {
	m, data := d.hookDelivery(w, r)
	if m == nil {
		return
	}
	data.Sent = r.URL.Query().Get("sent") == "1"
	d.render(w, r, http.StatusOK, "webhook_delivery", d.newView("Webhook delivery", "webhooks", m, data))
}

// hooksRedeliver sends a finished delivery again (POST /v1/webhooks/deliveries/{id}/redeliver);
// one still pending is refused (409) on its page.
func (d *Dashboard) hooksRedeliver(w http.ResponseWriter, r *http.Request) {
	m, data := d.hookDelivery(w, r)
	if m == nil || !d.checkForm(w, r, m, m.token) {
		return
	}
	if _, err := d.cfg.Webhooks.Redeliver(r.Context(), m.Principal, data.Delivery.ID); err != nil {
		var fe *fault.Error
		if !errors.Is(err, fault.ErrConflict) || !errors.As(err, &fe) {
			d.fail(w, r, m, err)
			return
		}
		data.Problem = fe.Message
		d.render(w, r, http.StatusConflict, "webhook_delivery", d.newView("Webhook delivery", "webhooks", m, data))
		return
	}
	http.Redirect(w, r, hooksPath+"/"+data.Endpoint.ID+"/deliveries/"+data.Delivery.ID, http.StatusSeeOther)
}

// disabledHooks returns the endpoints Steller disabled, for /app's banner, when m may
// manage webhooks (nil otherwise).
func (d *Dashboard) disabledHooks(r *http.Request, m *member) ([]webhook.Endpoint, error) {
	if !m.MayWebhooks {
		return nil, nil
	}
	page, err := d.cfg.Webhooks.ListEndpoints(r.Context(), m.Principal, "", endpointsPageSize)
	if err != nil {
		return nil, err
	}
	return disabledBySteller(page.Endpoints), nil
}
