package account

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/alexedwards/argon2id"

	"github.com/steller/platform/control-plane/fault"
)

// PasswordParams are the argon2id parameters of every new password hash: the OWASP
// Password Storage Cheat Sheet's first configuration (m=19 MiB, t=2, p=1), with a 16-byte
// salt and a 32-byte key. Stored hashes carry their own parameters, so raising these
// later keeps old hashes verifiable.
var PasswordParams = argon2id.Params{
	Memory:      19 * 1024,
	Iterations:  2,
	Parallelism: 1,
	SaltLength:  16,
	KeyLength:   32,
}

// Password rules, checked on signup, invitation acceptance and admin creation.
const (
	// MinPasswordLength is the fewest characters a password may have.
	MinPasswordLength = 12
	// MaxPasswordLength bounds the work one hash may cost.
	MaxPasswordLength = 256
	// minPasswordClasses is how many of lower case, upper case, digits and symbols a
	// password must mix.
	minPasswordClasses = 2
	// minDistinctRunes rejects long repetitions such as "aaaaaaaaaaa1".
	minDistinctRunes = 5
)

// commonPasswords are a few passwords long enough to pass the length rule that are still
// among the first guesses of any attacker.
var commonPasswords = map[string]bool{
	"password1234": true, "password12345": true, "password123!": true, "qwerty123456": true,
	"123456789012": true, "passw0rd1234": true, "iloveyou1234": true, "welcome12345": true,
	"administrator1": true, "changeme1234": true, "letmein12345": true, "1q2w3e4r5t6y": true,
}

// CheckPassword returns a validation error (field body.password) when password is weak:
// shorter than MinPasswordLength, longer than MaxPasswordLength, made of one character
// class only (needs two of lower, upper, digit, symbol), fewer than 5 distinct
// characters, a well-known password, or containing the e-mail's local part.
func CheckPassword(password, email string) error {
	const field = "body.password"
	n := len([]rune(password))
	switch {
	case n < MinPasswordLength:
		return fault.Invalid(field, fmt.Sprintf("password is too short: use at least %d characters", MinPasswordLength), nil)
	case n > MaxPasswordLength:
		return fault.Invalid(field, fmt.Sprintf("password is too long: use at most %d characters", MaxPasswordLength), nil)
	}
	var lower, upper, digit, other int
	distinct := map[rune]bool{}
	for _, r := range password {
		distinct[r] = true
		switch {
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsUpper(r):
			upper = 1
		case unicode.IsDigit(r):
			digit = 1
		default:
			other = 1
		}
	}
	if lower+upper+digit+other < minPasswordClasses {
		return fault.Invalid(field, "password is too simple: mix at least two of lower case, upper case, digits and symbols", nil)
	}
	if len(distinct) < minDistinctRunes {
		return fault.Invalid(field, "password repeats too few characters", nil)
	}
	lowered := strings.ToLower(password)
	if commonPasswords[lowered] {
		return fault.Invalid(field, "password is too common", nil)
	}
	if local, _, ok := strings.Cut(strings.ToLower(email), "@"); ok && len(local) >= 3 && strings.Contains(lowered, local) {
		return fault.Invalid(field, "password must not contain your e-mail address", nil)
	}
	return nil
}

// hasher hashes and verifies passwords with argon2id, bounding how many run at once:
// each takes PasswordParams.Memory, so unbounded logins could exhaust memory.
type hasher struct {
	slots chan struct{}
	// dummy is a hash of a random password, verified when a login names an unknown
	// e-mail so that the answer takes as long as for a known one.
	dummy string
}

func newHasher(concurrency int) (*hasher, error) {
	dummy, err := argon2id.CreateHash("no user has this password: "+fmt.Sprint(concurrency), &PasswordParams)
	if err != nil {
		return nil, fmt.Errorf("account: dummy password hash: %w", err)
	}
	return &hasher{slots: make(chan struct{}, concurrency), dummy: dummy}, nil
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() { <-h.slots }

// hash returns the argon2id hash (PHC string) of password.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	out, err := argon2id.CreateHash(password, &PasswordParams)
	if err != nil {
		return "", fmt.Errorf("account: hash password: %w", err)
	}
	return out, nil
}

// verify reports whether password matches hash; an empty hash verifies the dummy (and
// reports false), so an unknown user costs the same time as a wrong password.
func (h *hasher) verify(ctx context.Context, password, hash string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	if hash == "" {
		_, _ = argon2id.ComparePasswordAndHash(password, h.dummy)
		return false, nil
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return false, fmt.Errorf("account: verify password: %w", err)
	}
	return ok, nil
}
