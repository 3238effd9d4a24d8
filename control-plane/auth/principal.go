// Package auth owns who is calling the control plane: the Principal that the API layer
// puts in each request's context after checking a session (cookie or bearer token), and
// the helpers every operation uses to demand one.
package auth

import (
	"context"

	"github.com/steller/platform/control-plane/fault"
)

// Kind is the kind of caller.
type Kind string

// Kinds of caller.
const (
	// KindUser is a partner's team member, acting in one workspace with one role.
	KindUser Kind = "user"
	// KindAdmin is a Steller platform admin (a separate kind of user).
	KindAdmin Kind = "admin"
)

// Roles of a workspace member.
const (
	RoleOwner     = "owner"
	RoleDeveloper = "developer"
	RoleFinance   = "finance"
)

// Principal is the authenticated caller of one request.
type Principal struct {
	// Kind is user or admin.
	Kind Kind
	// ID is the user's or admin's id.
	ID string
	// Email is the caller's e-mail address.
	Email string
	// PartnerID is the partner the user belongs to (users only).
	PartnerID string
	// WorkspaceID is the workspace the session acts in (users only).
	WorkspaceID string
	// Role is the user's role in that workspace: owner, developer or finance (users only).
	Role string
	// SessionHash identifies the session (for logout); never the token itself.
	SessionHash []byte
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the request's principal, if the request was authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Require returns the request's principal, or an unauthorized error.
func Require(ctx context.Context) (Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return Principal{}, fault.New(fault.ErrUnauthorized, "sign in first: send the session cookie or an Authorization: Bearer session token")
	}
	return p, nil
}
