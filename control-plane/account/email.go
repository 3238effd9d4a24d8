package account

import (
	"net/mail"
	"strings"

	"github.com/steller/platform/control-plane/fault"
)

// maxEmailLen bounds an address (RFC 5321's path limit).
const maxEmailLen = 254

// NormalizeEmail returns the one spelling under which an account's mailbox is stored and
// looked up: a bare addr-spec (no display name, no comments, no angle brackets), trimmed,
// with the domain in lower case (domains are case-insensitive; the local part is kept as
// given and compared case-insensitively by the citext column). Anything else is a
// validation problem at field, so one mailbox can never hold two accounts.
func NormalizeEmail(field, raw string) (string, error) {
	s := strings.TrimSpace(raw)
	a, err := mail.ParseAddress(s)
	at := strings.LastIndex(s, "@")
	if err != nil || a.Name != "" || a.Address != s || len(s) > maxEmailLen || at < 1 || !strings.Contains(s[at+1:], ".") {
		return "", fault.Invalid(field, "must be a plain e-mail address such as ada@example.com (no display name)", raw)
	}
	return s[:at+1] + strings.ToLower(s[at+1:]), nil
}

// loginEmail is the spelling a sign-in looks up: the normalized address, or the input as
// trimmed when it is not one (it then matches no account, the same answer as a wrong
// password, so the response tells nothing about which addresses exist).
func loginEmail(raw string) string {
	if e, err := NormalizeEmail("", raw); err == nil {
		return e
	}
	return strings.TrimSpace(raw)
}
