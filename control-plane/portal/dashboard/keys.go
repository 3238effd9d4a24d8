package dashboard

import (
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/input"
	"github.com/steller/platform/control-plane/rbac"
)

// The keys pages (/app/keys): the list, the create form, and roll and revoke, each behind
// its confirmation page. They call the API's key service with the API's authorization
// (keys.read to list, keys.manage for every change), so Finance sees the keys' metadata
// and nothing else. A new or rolled key's secret is rendered once, in the answer to the
// POST that made it (no-store, never kept by the page): a redirect would need the secret
// stored somewhere to show it after, which is what "shown once" rules out.

// keysPageSize is how many keys one list page shows.
const keysPageSize = 50

// keyIDPattern is what a key id in a page's path may be (ident.New's shape, loosely);
// anything else is a 404 before the service is asked.
var keyIDPattern = regexp.MustCompile(`^key_[A-Za-z0-9]{1,60}$`)

// roleHints say what each key role lets a key call (the edge policy's routes).
var roleHints = map[string]string{
	"catalog:read": "GET /v1/catalog",
	"orders:read":  "GET /v1/orders/{id}",
	"orders:write": "POST /v1/orders",
	"balance:read": "GET /v1/balance",
	"finance:read": "live settlements and finance reports",
	"*":            "every route, including ones added later",
}

// graceChoices are the roll form's grace periods (the service takes any up to MaxGrace).
var graceChoices = []struct{ Value, Label string }{
	{"0s", "Stop the old key now"},
	{"1h", "1 hour"},
	{"24h", "24 hours"},
	{"72h", "3 days"},
	{"168h", "7 days (the most)"},
}

// keysData is the list page's.
type keysData struct {
	Keys []keyRow
	// Manage: the member may create, roll and revoke (keys.manage); else the list is read-only.
	Manage bool
	// Next is the next page's cursor.
	Next string
	// Revoked is the key just revoked, for the notice.
	Revoked string
}

// keyRow is one key of the list, with its times split for a narrow table cell.
type keyRow struct {
	apikey.Key
	Created, Expires, LastUsed, GraceUntil, Revoked stamp
}

// stamp is a time in UTC as a day and a clock, each kept on one line; zero when unset.
type stamp struct{ Day, Clock, ISO string }

func stampOf(t *time.Time) stamp {
	if t == nil {
		return stamp{}
	}
	u := t.UTC()
	return stamp{Day: u.Format(time.DateOnly), Clock: u.Format("15:04:05 UTC"), ISO: u.Format(time.RFC3339)}
}

// keyForm is the create form, as typed, with its errors.
type keyForm struct {
	CSRF                              string
	Name, Environment, CIDRs, Expires string
	Roles                             map[string]bool
	// Live: the partner is approved for live, so may create live keys.
	Live bool
	// Errors are single fields' messages, by field name; Problem is the form's.
	Errors  map[string]string
	Problem string
}

// roleChoice is one role checkbox.
type roleChoice struct {
	Role, Hint string
	Checked    bool
}

// RoleChoices are the form's role checkboxes, in the service's order.
func (f keyForm) RoleChoices() []roleChoice {
	out := make([]roleChoice, len(apikey.Roles))
	for i, r := range apikey.Roles {
		out[i] = roleChoice{Role: r, Hint: roleHints[r], Checked: f.Roles[r]}
	}
	return out
}

// secretData is the page that shows a secret once: a new key, or a roll's new key and the
// old one in its grace period.
type secretData struct {
	Key    apikey.Key
	Secret string
	// Old is the rolled key (a roll only).
	Old *apikey.Key
}

// keyActionData is a roll or revoke confirmation page's.
type keyActionData struct {
	Key     apikey.Key
	CSRF    string
	Grace   string
	Choices []struct{ Value, Label string }
	Errors  map[string]string
	Problem string
}

// keys is /app/keys: the workspace's keys, newest first (GET /v1/keys: keys.read).
func (d *Dashboard) keys(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.KeysRead)
	if m == nil {
		return
	}
	manage, err := d.may(r, m.Principal, rbac.KeysManage)
	if err != nil {
		d.fail(w, r, m, err)
		return
	}
	q := r.URL.Query()
	page, err := d.cfg.Keys.List(r.Context(), m.Principal, q.Get("cursor"), keysPageSize)
	if err != nil {
		d.fail(w, r, m, err)
		return
	}
	data := keysData{Manage: manage, Next: page.NextCursor}
	for _, k := range page.Keys {
		data.Keys = append(data.Keys, keyRow{Key: k, Created: stampOf(&k.CreatedAt), Expires: stampOf(k.ExpiresAt),
			LastUsed: stampOf(k.LastUsedAt), GraceUntil: stampOf(k.GraceUntil), Revoked: stampOf(k.RevokedAt)})
	}
	if id := q.Get("revoked"); id != "" {
		for _, k := range page.Keys {
			if k.ID == id && k.Status == apikey.StatusRevoked {
				data.Revoked = k.DisplayPrefix
			}
		}
	}
	d.render(w, r, http.StatusOK, "keys", d.newView("API keys", "keys", m, data))
}

// newKeyForm is /app/keys/new (keys.manage).
func (d *Dashboard) newKeyForm(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.KeysManage)
	if m == nil {
		return
	}
	f := keyForm{Environment: string(keyformat.Test), Roles: map[string]bool{}}
	for _, role := range apikey.SandboxRoles {
		f.Roles[role] = true
	}
	d.renderKeyForm(w, r, m, http.StatusOK, f)
}

func (d *Dashboard) renderKeyForm(w http.ResponseWriter, r *http.Request, m *member, status int, f keyForm) {
	f.CSRF = m.CSRF("/app/keys")
	f.Live = m.Me.Partner != nil && m.Me.Partner.LiveApproved
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	d.render(w, r, status, "key_new", d.newView("Create an API key", "keys", m, f))
}

// createKey creates a key (POST /v1/keys: keys.manage) and shows its secret once.
func (d *Dashboard) createKey(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.KeysManage)
	if m == nil || !d.checkForm(w, r, m, m.token) {
		return
	}
	pf := r.PostForm
	f := keyForm{Name: pf.Get("name"), Environment: pf.Get("environment"), CIDRs: pf.Get("allowed_cidrs"),
		Expires: strings.TrimSpace(pf.Get("expires_on")), Roles: map[string]bool{}, Errors: map[string]string{}}
	if f.Environment == "" {
		f.Environment = string(keyformat.Test)
	}
	roles := pf["roles"]
	for _, role := range roles {
		f.Roles[role] = true
	}
	for field, v := range map[string]string{"name": f.Name, "environment": f.Environment, "allowed_cidrs": f.CIDRs, "expires_on": f.Expires} {
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			f.Errors[field] = "must be text (it holds a NUL byte or invalid characters)"
		}
	}
	if slices.ContainsFunc(roles, func(s string) bool { return !utf8.ValidString(s) }) {
		f.Errors["roles"] = "choose roles from the list"
	}
	var expires *time.Time
	if f.Expires != "" && f.Errors["expires_on"] == "" {
		t, err := time.Parse(time.DateOnly, f.Expires)
		if err != nil {
			f.Errors["expires_on"] = "enter a date as YYYY-MM-DD, or leave it empty for a key that does not expire"
		} else {
			expires = &t
		}
	}
	if len(f.Errors) > 0 {
		d.renderKeyForm(w, r, m, http.StatusUnprocessableEntity, sanitizedKeyForm(f))
		return
	}
	in := apikey.Settings{Name: f.Name, Environment: keyformat.Environment(f.Environment), Roles: roles,
		AllowedCIDRs: splitCIDRs(f.CIDRs), ExpiresAt: expires}
	c, err := d.cfg.Keys.Create(r.Context(), m.Principal, in)
	if err != nil {
		var fe *fault.Error
		status, _, known := fault.KindCode(err)
		if !known || status >= 500 || !errors.As(err, &fe) {
			d.fail(w, r, m, err)
			return
		}
		if field := formField(fe.Field); field != "" && errors.Is(err, fault.ErrValidation) {
			f.Errors[field] = fe.Message
		} else {
			f.Problem = fe.Message
		}
		if fe.RetryAfter > 0 {
			w.Header().Set("Retry-After", retryAfter(fe.RetryAfter))
		}
		d.renderKeyForm(w, r, m, status, f)
		return
	}
	d.render(w, r, http.StatusOK, "key_secret", d.newView("Your new API key", "keys", m, secretData{Key: c.Key, Secret: c.Secret}))
}

// formField maps a service's field path (body.allowed_cidrs[2]) to the form's field.
func formField(path string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(path, "body."), "[")
	switch name {
	case "name", "environment", "roles", "allowed_cidrs", "grace_period":
		return name
	case "expires_at":
		return "expires_on"
	}
	return ""
}

// splitCIDRs reads the allowed addresses as typed: one per line or comma separated.
func splitCIDRs(s string) []string {
	out := []string{}
	for _, e := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// sanitizedKeyForm drops from f what cannot be shown back as typed.
func sanitizedKeyForm(f keyForm) keyForm {
	clean := func(s string) string { return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "") }
	f.Name, f.Environment, f.CIDRs, f.Expires = clean(f.Name), clean(f.Environment), clean(f.CIDRs), clean(f.Expires)
	return f
}

// keyFor returns the key of r's {id} in m's workspace, or answers (404) and returns false.
func (d *Dashboard) keyFor(w http.ResponseWriter, r *http.Request, m *member) (apikey.Key, bool) {
	id := r.PathValue("id")
	if !keyIDPattern.MatchString(id) {
		d.problem(w, r, m, http.StatusNotFound, "Not Found", "There is no such key in your workspace.")
		return apikey.Key{}, false
	}
	k, err := d.cfg.Keys.Get(r.Context(), m.Principal, id)
	if err != nil {
		d.fail(w, r, m, err)
		return apikey.Key{}, false
	}
	return k, true
}

// rollForm is /app/keys/{id}/roll: the grace period to roll with (keys.manage).
func (d *Dashboard) rollForm(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.KeysManage)
	if m == nil {
		return
	}
	k, ok := d.keyFor(w, r, m)
	if !ok {
		return
	}
	d.renderAction(w, r, m, http.StatusOK, "key_roll", keyActionData{Key: k, Grace: "24h"}) // apikey.DefaultGrace
}

func (d *Dashboard) renderAction(w http.ResponseWriter, r *http.Request, m *member, status int, name string, data keyActionData) {
	verb := "roll"
	title := "Roll key"
	if name == "key_revoke" {
		verb, title = "revoke", "Revoke key"
	}
	data.CSRF = m.CSRF("/app/keys/" + data.Key.ID + "/" + verb)
	data.Choices = graceChoices
	if data.Errors == nil {
		data.Errors = map[string]string{}
	}
	d.render(w, r, status, name, d.newView(title, "keys", m, data))
}

// rollKey rolls a key (POST /v1/keys/{id}/roll: keys.manage) and shows the new secret
// once, and until when the old key works.
func (d *Dashboard) rollKey(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.KeysManage)
	if m == nil || !d.checkForm(w, r, m, m.token) {
		return
	}
	k, ok := d.keyFor(w, r, m)
	if !ok {
		return
	}
	raw := r.PostForm.Get("grace_period")
	data := keyActionData{Key: k, Grace: raw, Errors: map[string]string{}}
	grace, err := input.Duration(raw).Parse("body.grace_period", apikey.DefaultGrace)
	var rolled apikey.Rolled
	if err == nil {
		rolled, err = d.cfg.Keys.Roll(r.Context(), m.Principal, k.ID, grace)
	}
	if err != nil {
		var fe *fault.Error
		status, _, known := fault.KindCode(err)
		if !known || status >= 500 || !errors.As(err, &fe) || status == http.StatusNotFound {
			d.fail(w, r, m, err)
			return
		}
		if errors.Is(err, fault.ErrValidation) {
			data.Errors["grace_period"] = fe.Message
		} else {
			data.Problem = fe.Message
		}
		if !utf8.ValidString(data.Grace) {
			data.Grace = ""
		}
		d.renderAction(w, r, m, status, "key_roll", data)
		return
	}
	d.render(w, r, http.StatusOK, "key_secret", d.newView("Your rolled API key", "keys", m,
		secretData{Key: rolled.New.Key, Secret: rolled.New.Secret, Old: &rolled.Old}))
}

// revokeForm is /app/keys/{id}/revoke: the confirmation (keys.manage).
func (d *Dashboard) revokeForm(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.KeysManage)
	if m == nil {
		return
	}
	k, ok := d.keyFor(w, r, m)
	if !ok {
		return
	}
	d.renderAction(w, r, m, http.StatusOK, "key_revoke", keyActionData{Key: k})
}

// revokeKey revokes a key (POST /v1/keys/{id}/revoke: keys.manage) and goes back to the list.
func (d *Dashboard) revokeKey(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.KeysManage)
	if m == nil || !d.checkForm(w, r, m, m.token) {
		return
	}
	k, ok := d.keyFor(w, r, m)
	if !ok {
		return
	}
	if _, err := d.cfg.Keys.Revoke(r.Context(), m.Principal, k.ID); err != nil {
		d.fail(w, r, m, err)
		return
	}
	http.Redirect(w, r, "/app/keys?revoked="+urlQueryEscape(k.ID), http.StatusSeeOther)
}
