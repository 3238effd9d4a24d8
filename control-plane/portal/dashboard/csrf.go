package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
)

// CSRFCookie holds the pre-session secret that the signup and sign-in forms' tokens are
// bound to (there is no session yet to bind them to).
const CSRFCookie = "steller_csrf"

// CSRFField is the name of the hidden form field carrying the token.
const CSRFField = "csrf_token"

// csrfVersion is mixed into every token so that a change of scheme invalidates old ones.
const csrfVersion = "steller-csrf-v1|"

// csrfToken is the token of the form posting to action, for a browser holding binding (its
// session token, or its pre-session cookie before sign-in): HMAC-SHA256 keyed by that
// secret over the action. Only a page the browser itself loaded can know it.
func csrfToken(binding, action string) string {
	if binding == "" {
		return ""
	}
	m := hmac.New(sha256.New, []byte(binding))
	m.Write([]byte(csrfVersion + action))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validCSRF reports whether got is the token of action for binding.
func validCSRF(binding, action, got string) bool {
	want := csrfToken(binding, action)
	return want != "" && got != "" && hmac.Equal([]byte(want), []byte(got))
}

// preSession returns the browser's pre-session secret, minting it (and its cookie) when the
// browser has none, so that the form about to be rendered can carry a token.
func (d *Dashboard) preSession(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(CSRFCookie); err == nil && validPreSession(c.Value) {
		return c.Value
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails on Linux
	v := base64.RawURLEncoding.EncodeToString(raw[:])
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: v, Path: "/", HttpOnly: true,
		Secure: d.cfg.CookieSecure, SameSite: http.SameSiteLaxMode, MaxAge: 24 * 60 * 60})
	return v
}

// presentedPreSession is the pre-session secret a POST presents, or "".
func presentedPreSession(r *http.Request) string {
	if c, err := r.Cookie(CSRFCookie); err == nil && validPreSession(c.Value) {
		return c.Value
	}
	return ""
}

// validPreSession accepts what preSession mints: 43 base64url characters.
func validPreSession(v string) bool {
	return len(v) == 43 && strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}
