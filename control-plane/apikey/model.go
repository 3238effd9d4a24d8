package apikey

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/steller/platform/contract/allowlist"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/input"
	"github.com/steller/platform/control-plane/page"
)

// Key statuses as shown to partners (the edge only knows active and revoked; the rest
// follow from the expiry and grace times).
const (
	StatusActive  = "active"
	StatusGrace   = "grace"
	StatusExpired = "expired"
	StatusRevoked = "revoked"
)

// Key is an API key as shown to partners; it never carries the secret.
type Key struct {
	ID            string     `json:"id" doc:"Key id (key_...)."`
	Name          string     `json:"name"`
	DisplayPrefix string     `json:"display_prefix" doc:"The start of the secret (sk_test_ab12), to recognise the key."`
	Environment   string     `json:"environment" enum:"test,live"`
	WorkspaceID   string     `json:"workspace_id"`
	Roles         []string   `json:"roles"`
	AllowedCIDRs  []string   `json:"allowed_cidrs" doc:"Client addresses allowed to use the key; empty allows any."`
	Status        string     `json:"status" enum:"active,grace,expired,revoked"`
	CreatedBy     string     `json:"created_by"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	LastUsedAt    *time.Time `json:"last_used_at"`
	ExpiresAt     *time.Time `json:"expires_at"`
	GraceUntil    *time.Time `json:"grace_until" doc:"Set on a rolled key: it works until then."`
	RolledTo      *string    `json:"rolled_to" doc:"The key that replaced this one."`
	RevokedAt     *time.Time `json:"revoked_at"`
}

func view(r row, now time.Time) Key {
	status := StatusActive
	switch {
	case r.Status == StatusRevoked:
		status = StatusRevoked
	case r.ExpiresAt != nil && !now.Before(*r.ExpiresAt), r.GraceUntil != nil && !now.Before(*r.GraceUntil):
		status = StatusExpired
	case r.GraceUntil != nil:
		status = StatusGrace
	}
	return Key{
		ID: r.ID, Name: r.Name, DisplayPrefix: r.Display, Environment: r.Environment, WorkspaceID: r.WorkspaceID,
		Roles: nonNil(r.Roles), AllowedCIDRs: nonNil(r.AllowedCIDRs), Status: status, CreatedBy: r.CreatedBy,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, LastUsedAt: r.LastUsedAt, ExpiresAt: r.ExpiresAt,
		GraceUntil: r.GraceUntil, RolledTo: r.RolledTo, RevokedAt: r.RevokedAt,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// validate checks and normalises new-key settings (the HTTP layer checks shapes first;
// this guards every other caller too).
func validate(in Settings, now time.Time) (Settings, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		return in, fault.Invalid("body.name", "name must be 1 to 200 characters", in.Name)
	}
	if err := input.PlainText("body.name", in.Name); err != nil {
		return in, err
	}
	if !in.Environment.Valid() {
		return in, fault.Invalid("body.environment", `environment must be "test" or "live"`, string(in.Environment))
	}
	roles, err := validRoles(in.Roles)
	if err != nil {
		return in, err
	}
	in.Roles = roles
	cidrs, err := validCIDRs(in.AllowedCIDRs)
	if err != nil {
		return in, err
	}
	in.AllowedCIDRs = cidrs
	if in.ExpiresAt != nil {
		if !in.ExpiresAt.After(now) {
			return in, fault.Invalid("body.expires_at", "expires_at must be in the future", in.ExpiresAt.Format(time.RFC3339))
		}
		t := in.ExpiresAt.UTC()
		in.ExpiresAt = &t
	}
	return in, nil
}

// validRoles checks every role against Roles and returns them sorted without duplicates.
func validRoles(roles []string) ([]string, error) {
	if len(roles) == 0 {
		return nil, fault.Invalid("body.roles", "a key needs at least one role; known roles: "+strings.Join(Roles, ", "), roles)
	}
	for i, r := range roles {
		if !KnownRole(r) {
			return nil, fault.Invalid(fmt.Sprintf("body.roles[%d]", i), fmt.Sprintf("unknown role %q; known roles: %s", r, strings.Join(Roles, ", ")), r)
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(roles))), nil
}

// validCIDRs parses each entry with the edge's own allowlist parser (IPv4, IPv6, addresses
// and prefixes), names the first bad entry by its path, and returns the canonical forms.
func validCIDRs(entries []string) ([]string, error) {
	if len(entries) > MaxCIDRs {
		return nil, fault.Invalid("body.allowed_cidrs", fmt.Sprintf("at most %d allowed addresses per key", MaxCIDRs), len(entries))
	}
	out := make([]string, 0, len(entries))
	for i, e := range entries {
		l, err := allowlist.Parse([]string{e})
		if err == nil && strings.TrimSpace(e) != e {
			err = errors.New("surrounding spaces")
		}
		if err != nil {
			reason := err
			if inner := errors.Unwrap(err); inner != nil {
				reason = inner
			}
			return nil, fault.Invalid(fmt.Sprintf("body.allowed_cidrs[%d]", i),
				fmt.Sprintf("allowed_cidrs[%d] %q is not an IPv4/IPv6 address or CIDR prefix: %v", i, e, reason), e)
		}
		out = append(out, l.Strings()...)
	}
	return slices.Compact(out), nil
}

func encodeCursor(at time.Time, id string) string { return page.TimeKey{At: at, ID: id}.Encode() }

// decodeCursor returns nil for the first page, and a 422 for a cursor this API did not make.
func decodeCursor(s string) (*page.TimeKey, error) {
	k, ok, err := page.DecodeTimeKey(s)
	if err != nil || !ok {
		return nil, err
	}
	return &k, nil
}
