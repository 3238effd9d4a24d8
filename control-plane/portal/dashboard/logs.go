package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/control-plane/explorer"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/rbac"
	"github.com/steller/platform/control-plane/webhook"
)

// LogExplorer reads a partner's request logs, as GET /v1/logs and GET /v1/logs/{requestId}
// do (explorer.Deps); the caller has authorized logs.read.
type LogExplorer interface {
	// Logs returns one page of partnerID's request logs.
	Logs(ctx context.Context, partnerID string, in explorer.LogFilters) (explorer.LogList, error)
	// Request returns one request of partnerID with the webhook deliveries it caused.
	Request(ctx context.Context, partnerID, requestID string) (explorer.RequestDetail, error)
}

// The log explorer's page size (the API's default and maximum) and how many cursors of
// newer pages the URL keeps for the Newer link: the service pages only towards older
// rows, so going back needs the cursors that led here. Past that depth Newer starts
// again from the newest page.
const (
	defaultLogLimit = 50
	maxLogLimit     = logquery.MaxPageSize
	maxNewer        = 20
	maxCursorLen    = 512
)

// cursorPattern is what a cursor of explorer.LogList.NextCursor may be (base64url).
var cursorPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,512}$`)

// timeLayouts are the times the From and To fields take, in UTC unless they say
// otherwise: what a datetime-local control sends, and RFC 3339 as the API takes it.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999", "2006-01-02 15:04", "2006-01-02"}

// logForm is the explorer's filters as the URL carries them (the GET form's fields).
type logForm struct {
	Status, Method, Route, Path, PathPrefix, KeyID, Environment string
	DenialCode, From, To, RequestID, ClientRequestID, Limit     string
}

// query returns the filters' URL query, without the empty ones and the default limit, so
// a shared view's address names only what it filters on.
func (f logForm) query() url.Values {
	q := url.Values{}
	for _, kv := range [][2]string{{"status", f.Status}, {"method", f.Method}, {"route", f.Route}, {"path", f.Path},
		{"path_prefix", f.PathPrefix}, {"key_id", f.KeyID}, {"environment", f.Environment}, {"denial_code", f.DenialCode},
		{"from", f.From}, {"to", f.To}, {"request_id", f.RequestID}, {"client_request_id", f.ClientRequestID}, {"limit", f.Limit}} {
		if kv[1] != "" && (kv[0] != "limit" || kv[1] != strconv.Itoa(defaultLogLimit)) {
			q.Set(kv[0], kv[1])
		}
	}
	return q
}

// formFields are the query parameters with a field in the form; a problem with any other
// (the cursor) is a notice above it.
var formFields = map[string]bool{"status": true, "method": true, "route": true, "path": true, "path_prefix": true,
	"key_id": true, "environment": true, "denial_code": true, "from": true, "to": true, "request_id": true,
	"client_request_id": true, "limit": true}

// logsData is the log explorer's page.
type logsData struct {
	Form logForm
	// Errors are the invalid filters' messages by query parameter; Notices the problems
	// with no field of their own (a stale cursor).
	Errors  map[string]string
	Notices []string
	// Restart is the page of the same filters without a cursor.
	Restart string
	Rows    []logRow
	// Older, Newer and Newest are the pagination links ("" when there is none).
	Older, Newer, Newest string
	// Filtered: some filter is set (the empty state says so).
	Filtered bool
}

// logRow is one request as the pages show it.
type logRow struct{ logquery.Row }

// At is the request's time.
func (r logRow) At() string { return r.Timestamp.UTC().Format("2006-01-02 15:04:05.000") }

// Link is the request's detail page.
func (r logRow) Link() string { return "/app/logs/" + url.PathEscape(r.RequestID) }

// Latency is the request's total latency in milliseconds.
func (r logRow) Latency() string { return micros(r.LatencyTotalUs) }

// Upstream and Edge split the latency.
func (r logRow) Upstream() string { return micros(r.LatencyUpstreamUs) }

// Edge is the edge's own share of the latency.
func (r logRow) Edge() string { return micros(r.LatencyEdgeUs) }

// Ingested is when the row was stored.
func (r logRow) Ingested() string { return r.IngestedAt.UTC().Format("2006-01-02 15:04:05 UTC") }

// StatusClass is the status's class (2xx …) for styling.
func (r logRow) StatusClass() string { return strconv.Itoa(int(r.Status)/100) + "xx" }

// ByKey and ByClient are the explorer filtered to the request's key and client request id.
func (r logRow) ByKey() string { return "/app/logs?" + url.Values{"key_id": {r.KeyID}}.Encode() }

// ByClient is the explorer filtered to the request's client request id.
func (r logRow) ByClient() string {
	return "/app/logs?" + url.Values{"client_request_id": {r.ClientRequestID}}.Encode()
}

func micros(us uint64) string { return strconv.FormatFloat(float64(us)/1000, 'f', 1, 64) + " ms" }

// logs is /app/logs: a page of the partner's request logs with GET /v1/logs's filters,
// cursor and authorization (logs.read).
func (d *Dashboard) logs(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.LogsRead)
	if m == nil {
		return
	}
	q := r.URL.Query()
	form, in, errs := parseLogQuery(q)
	cursor, newer := q.Get("cursor"), q["prev"]
	if len(cursor) > maxCursorLen || cursor != "" && !cursorPattern.MatchString(cursor) {
		errs["cursor"] = "this page's position is not one the explorer made"
	}
	for _, c := range newer {
		if !cursorPattern.MatchString(c) {
			errs["cursor"] = "this page's position is not one the explorer made"
		}
	}
	if len(newer) > maxNewer {
		newer = newer[len(newer)-maxNewer:]
	}
	in.Cursor = cursor
	data := logsData{Form: form, Errors: errs, Filtered: len(form.query()) > 0, Restart: pageLink(form, "", nil)}
	if len(errs) == 0 && hasEmpty(q) {
		// The form sends every field: keep the address to the filters set, to share.
		http.Redirect(w, r, pageLink(form, cursor, newer), http.StatusSeeOther)
		return
	}
	if len(errs) == 0 {
		list, err := d.cfg.Logs.Logs(r.Context(), m.PartnerID, in)
		if err != nil && !fieldErrors(err, errs) {
			d.logsFailed(w, r, m, err)
			return
		}
		for _, row := range list.Logs {
			data.Rows = append(data.Rows, logRow{row})
		}
		if list.NextCursor != "" {
			trail := newer
			if cursor != "" {
				trail = append(trail[:len(trail):len(trail)], cursor)
			}
			if len(trail) > maxNewer {
				trail = trail[len(trail)-maxNewer:]
			}
			data.Older = pageLink(form, list.NextCursor, trail)
		}
	}
	if len(errs) > 0 {
		for field, msg := range errs {
			if !formFields[field] {
				data.Notices = append(data.Notices, msg)
			}
		}
		slices.Sort(data.Notices)
		d.render(w, r, http.StatusUnprocessableEntity, "logs", d.newView("Log explorer", "logs", m, data))
		return
	}
	if cursor != "" {
		back := ""
		if len(newer) > 0 {
			back = newer[len(newer)-1]
			data.Newest = data.Restart
		}
		data.Newer = pageLink(form, back, newer[:max(len(newer)-1, 0)])
	}
	d.render(w, r, http.StatusOK, "logs", d.newView("Log explorer", "logs", m, data))
}

// parseLogQuery reads the filters from q: the form's values (trimmed, for the fields and
// links), the service's input, and the errors found before asking the service (times and
// the page size, which the API's schema would refuse).
func parseLogQuery(q url.Values) (logForm, explorer.LogFilters, map[string]string) {
	get := func(name string) string { return strings.TrimSpace(q.Get(name)) }
	f := logForm{Status: strings.ToLower(get("status")), Method: strings.ToUpper(get("method")), Route: get("route"),
		Path: get("path"), PathPrefix: get("path_prefix"), KeyID: get("key_id"), Environment: get("environment"),
		DenialCode: get("denial_code"), RequestID: get("request_id"), ClientRequestID: get("client_request_id")}
	in := explorer.LogFilters{Status: f.Status, Method: f.Method, Route: f.Route, Path: f.Path, PathPrefix: f.PathPrefix,
		KeyID: f.KeyID, Environment: f.Environment, DenialCode: f.DenialCode, RequestID: f.RequestID,
		ClientRequestID: f.ClientRequestID, Limit: defaultLogLimit}
	errs := map[string]string{}
	for _, t := range []struct {
		name string
		raw  string
		form *string
		to   *time.Time
	}{{"from", get("from"), &f.From, &in.From}, {"to", get("to"), &f.To, &in.To}} {
		*t.form = t.raw
		if t.raw == "" {
			continue
		}
		at, ok := parseTime(t.raw)
		if !ok {
			errs[t.name] = "enter a date and time in UTC, such as 2026-11-30T12:00"
			continue
		}
		*t.to, *t.form = at, formatTime(at)
	}
	if raw := get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		f.Limit = raw
		if err != nil || n < 1 || n > maxLogLimit {
			errs["limit"] = fmt.Sprintf("must be a number from 1 to %d", maxLogLimit)
		} else {
			in.Limit, f.Limit = n, strconv.Itoa(n)
		}
	}
	return f, in, errs
}

// parseTime reads a time of the From and To fields, as UTC at millisecond precision (the
// explorer's), so the form and the cursor's filter agree.
func parseTime(s string) (time.Time, bool) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Millisecond), true
		}
	}
	return time.Time{}, false
}

// formatTime writes t as a datetime-local control shows it, as precisely as needed.
func formatTime(t time.Time) string {
	switch {
	case t.Nanosecond() != 0:
		return t.Format("2006-01-02T15:04:05.000")
	case t.Second() != 0:
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format("2006-01-02T15:04")
}

// hasEmpty reports whether q has a parameter with no value (a GET form's blank field).
func hasEmpty(q url.Values) bool {
	for _, vs := range q {
		for _, v := range vs {
			if strings.TrimSpace(v) == "" {
				return true
			}
		}
	}
	return false
}

// pageLink is the explorer's address for form's filters at cursor, with the cursors of
// the newer pages that led there.
func pageLink(form logForm, cursor string, newer []string) string {
	q := form.query()
	if cursor != "" {
		q.Set("cursor", cursor)
		q["prev"] = newer
	}
	if len(q) == 0 {
		return "/app/logs"
	}
	return "/app/logs?" + q.Encode()
}

// fieldErrors adds the explorer's validation problems to errs by query parameter and
// reports whether err was one.
func fieldErrors(err error, errs map[string]string) bool {
	var fe *fault.Error
	if errors.As(err, &fe) && errors.Is(err, fault.ErrValidation) {
		errs[param(fe.Field)] = fe.Message
		return true
	}
	var pd *fault.ErrorModel
	if !errors.As(err, &pd) || pd.Status != http.StatusUnprocessableEntity {
		return false
	}
	for _, e := range pd.Errors {
		errs[param(e.Location)] = e.Message
	}
	if len(pd.Errors) == 0 {
		errs["partner_id"] = pd.Detail
	}
	return true
}

// param is the query parameter a problem's location names ("query.status": status).
func param(location string) string {
	if p := strings.TrimPrefix(location, "query."); p != "" {
		return p
	}
	return "partner_id"
}

// logsFailed renders a failure of the explorer: its problems (a 503 while ClickHouse is
// unreachable, a 422 for a request id it cannot hold) with their status and message,
// anything else as fail does.
func (d *Dashboard) logsFailed(w http.ResponseWriter, r *http.Request, m *member, err error) {
	var pd *fault.ErrorModel
	if errors.As(err, &pd) && (pd.Status < http.StatusInternalServerError || pd.Status == http.StatusServiceUnavailable) {
		if pd.Status == http.StatusServiceUnavailable {
			d.cfg.Logger.WarnContext(r.Context(), "dashboard: log explorer unavailable", "error", err)
		}
		d.problem(w, r, m, pd.Status, http.StatusText(pd.Status), pd.Detail)
		return
	}
	d.fail(w, r, m, err)
}

// logData is a request's detail page.
type logData struct {
	Request logRow
	// Webhooks are the deliveries the request caused with their attempts, as the console
	// shows them (members who manage webhooks); Summary is what GET /v1/logs/{id} lists
	// for the others.
	Webhooks webhookPanel
	Summary  []webhook.Delivery
	// APIPath is the same request in the API.
	APIPath string
}

// logRequest is /app/logs/{request_id}: one request in full with the webhooks it
// caused, with GET /v1/logs/{requestId}'s authorization (logs.read).
func (d *Dashboard) logRequest(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.LogsRead)
	if m == nil {
		return
	}
	id := r.PathValue("request_id")
	detail, err := d.cfg.Logs.Request(r.Context(), m.PartnerID, id)
	if err != nil {
		d.logsFailed(w, r, m, err)
		return
	}
	data := logData{Request: logRow{detail.Request}, Summary: detail.Webhooks, APIPath: "/v1/logs/" + url.PathEscape(id)}
	if data.Webhooks, err = d.webhooks(r, m, id); err != nil {
		d.fail(w, r, m, err)
		return
	}
	d.render(w, r, http.StatusOK, "log", d.newView("Request "+id, "logs", m, data))
}
