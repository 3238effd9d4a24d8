package dashboard

import (
	"errors"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/fault"
)

// Field limits, the API's (account's signup and login operations).
var fieldLimits = map[string]int{"company": 200, "name": 200, "email": 254, "password": 256, "referral_code": 64}

// signinForm is the signup or sign-in form, as typed (never the password) with its errors.
type signinForm struct {
	Action, CSRF, Next string
	Values             map[string]string
	// Errors are the messages of single fields, by field name.
	Errors map[string]string
	// Problem is the form's message that concerns no single field.
	Problem string
}

func (d *Dashboard) signupForm(w http.ResponseWriter, r *http.Request) {
	if d.redirectSignedIn(w, r) {
		return
	}
	ref := r.URL.Query().Get("ref")
	if !utf8.ValidString(ref) || len(ref) > fieldLimits["referral_code"] || strings.ContainsFunc(ref, isControl) {
		ref = "" // a mangled link: the field is optional, so leave it empty rather than refuse the page
	}
	f := signinForm{Action: "/signup", Values: map[string]string{"referral_code": strings.TrimSpace(ref)}}
	d.renderSignin(w, r, http.StatusOK, "signup", f)
}

func (d *Dashboard) loginForm(w http.ResponseWriter, r *http.Request) {
	if d.redirectSignedIn(w, r) {
		return
	}
	d.renderSignin(w, r, http.StatusOK, "login", signinForm{Action: "/login", Next: safeNext(r.URL.Query().Get("next"))})
}

// redirectSignedIn sends a browser that is already signed in to its dashboard.
func (d *Dashboard) redirectSignedIn(w http.ResponseWriter, r *http.Request) bool {
	m, err := d.signedIn(r)
	if err != nil || m == nil {
		return false // a session that cannot be checked now: show the form
	}
	http.Redirect(w, r, "/app", http.StatusSeeOther)
	return true
}

func (d *Dashboard) renderSignin(w http.ResponseWriter, r *http.Request, status int, name string, f signinForm) {
	f.CSRF = csrfToken(d.preSession(w, r), f.Action)
	if f.Values == nil {
		f.Values = map[string]string{}
	}
	title := "Sign in"
	if name == "signup" {
		title = "Create your account"
	}
	d.render(w, r, status, name, d.newView(title, "", nil, f))
}

func (d *Dashboard) signup(w http.ResponseWriter, r *http.Request) {
	if !d.checkForm(w, r, nil, presentedPreSession(r)) {
		return
	}
	f := signinForm{Action: "/signup", Values: map[string]string{}, Errors: map[string]string{}}
	for _, k := range []string{"company", "name", "email", "referral_code"} {
		f.Values[k] = r.PostForm.Get(k)
	}
	password := r.PostForm.Get("password")
	checkFields(f, map[string]string{"company": f.Values["company"], "name": f.Values["name"],
		"email": f.Values["email"], "referral_code": f.Values["referral_code"], "password": password})
	if len(f.Errors) > 0 {
		d.renderSignin(w, r, http.StatusUnprocessableEntity, "signup", sanitized(f))
		return
	}
	if ok, wait := d.cfg.Limit(account.OpSignup, r); !ok {
		d.rateLimited(w, r, "signup", f, wait, "Too many signups from your address: try again later.")
		return
	}
	res, err := d.cfg.Accounts.Signup(r.Context(), account.SignupRequest{Company: f.Values["company"], Name: f.Values["name"],
		Email: f.Values["email"], Password: password, ReferralCode: f.Values["referral_code"]})
	if err != nil {
		d.formFailed(w, r, "signup", f, err)
		return
	}
	w.Header().Add("Set-Cookie", d.cfg.Accounts.Cookie(res.Session))
	http.Redirect(w, r, "/app", http.StatusSeeOther)
}

func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	if !d.checkForm(w, r, nil, presentedPreSession(r)) {
		return
	}
	f := signinForm{Action: "/login", Next: safeNext(r.PostForm.Get("next")),
		Values: map[string]string{"email": r.PostForm.Get("email")}, Errors: map[string]string{}}
	password := r.PostForm.Get("password")
	checkFields(f, map[string]string{"email": f.Values["email"], "password": password})
	if len(f.Errors) > 0 {
		d.renderSignin(w, r, http.StatusUnprocessableEntity, "login", sanitized(f))
		return
	}
	if ok, wait := d.cfg.Limit(account.OpLogin, r); !ok {
		d.rateLimited(w, r, "login", f, wait, "Too many sign-in attempts from your address: try again later.")
		return
	}
	res, err := d.cfg.Accounts.Login(r.Context(), f.Values["email"], password, "")
	if err != nil {
		d.formFailed(w, r, "login", f, err)
		return
	}
	w.Header().Add("Set-Cookie", d.cfg.Accounts.Cookie(res.Session))
	next := f.Next
	if next == "" {
		next = "/app"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	m, err := d.signedIn(r)
	if err != nil {
		d.fail(w, r, nil, err)
		return
	}
	if m == nil { // no live session: nothing to end
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if !d.checkForm(w, r, m, m.token) {
		return
	}
	if err := d.cfg.Accounts.Logout(r.Context(), m.Principal); err != nil {
		d.fail(w, r, m, err)
		return
	}
	w.Header().Add("Set-Cookie", d.cfg.Accounts.Cookie(account.Session{}))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// checkFields records in f the fields that are not text the services can take (invalid
// UTF-8, a NUL byte) or are longer than the API allows, before any service sees them.
func checkFields(f signinForm, values map[string]string) {
	for k, v := range values {
		switch {
		case !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0:
			f.Errors[k] = "must be text (it holds a NUL byte or invalid characters)"
		case utf8.RuneCountInString(v) > fieldLimits[k]:
			f.Errors[k] = "must be at most " + strconv.Itoa(fieldLimits[k]) + " characters"
		}
	}
}

// sanitized drops from f's values what cannot be shown back (invalid UTF-8 would be
// replaced by html/template anyway; this keeps the page honest about it).
func sanitized(f signinForm) signinForm {
	for k, v := range f.Values {
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			f.Values[k] = strings.ToValidUTF8(strings.ReplaceAll(v, "\x00", ""), "")
		}
	}
	return f
}

// formFailed re-renders the form with a service error: a validation error at its field
// (or the form's), a conflict or bad credentials as the form's message, all 422; a rate
// limit 429 with Retry-After. Any other error is the server's, a 500 page.
func (d *Dashboard) formFailed(w http.ResponseWriter, r *http.Request, name string, f signinForm, err error) {
	var fe *fault.Error
	status, _, known := fault.KindCode(err)
	if !known || status >= 500 || !errors.As(err, &fe) {
		d.fail(w, r, nil, err)
		return
	}
	if status == http.StatusTooManyRequests {
		d.rateLimited(w, r, name, f, fe.RetryAfter, fe.Message)
		return
	}
	field := strings.TrimPrefix(fe.Field, "body.")
	if _, ok := fieldLimits[field]; ok && errors.Is(err, fault.ErrValidation) {
		f.Errors[field] = fe.Message
	} else {
		f.Problem = fe.Message
	}
	d.renderSignin(w, r, http.StatusUnprocessableEntity, name, sanitized(f))
}

func (d *Dashboard) rateLimited(w http.ResponseWriter, r *http.Request, name string, f signinForm, wait time.Duration, msg string) {
	w.Header().Set("Retry-After", retryAfter(wait))
	f.Problem = msg
	d.renderSignin(w, r, http.StatusTooManyRequests, name, sanitized(f))
}

// retryAfter renders a wait as a Retry-After value (whole seconds, at least 1).
func retryAfter(wait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
}

// safeNext returns next when it is a path on this site (so a link cannot send a signed-in
// browser elsewhere), else "".
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || !utf8.ValidString(next) || strings.ContainsFunc(next, isControl) ||
		next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.Contains(next, "\\") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return next
}

func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"dollars": func(cents int64) string {
		return "$" + strconv.FormatInt(cents/100, 10) + "." + strconv.FormatInt(100+cents%100, 10)[1:]
	},
	"unix": func(t time.Time) int64 { return t.Unix() },
	"ptr":  func(t time.Time) *time.Time { return &t },
	// dict builds a template's arguments from key, value pairs.
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, errors.New("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, errors.New("dict: keys must be strings")
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	"when": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
}
