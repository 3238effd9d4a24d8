package policies

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
)

// controlPlanePackage is the Rego package of the control plane's RBAC policy.
const controlPlanePackage = "data.steller.controlplane"

// ControlPlaneInput is the document the control plane's RBAC policy
// (data.steller.controlplane.decision) decides on: who is asking, and for what action.
type ControlPlaneInput struct {
	// Principal is the signed-in caller.
	Principal ControlPlanePrincipal `json:"principal"`
	// Action is the action asked for, such as "members.manage" (control-plane/rbac).
	Action string `json:"action"`
}

// ControlPlanePrincipal is the part of a caller the RBAC policy reads.
type ControlPlanePrincipal struct {
	// Kind is "user" (a partner's team member) or "admin" (a platform admin).
	Kind string `json:"kind"`
	// Role is the user's role in its workspace (owner, developer, finance); empty for admins.
	Role string `json:"role"`
}

// DecideControlPlane decides a control-plane action with the active bundle's RBAC policy.
// Decisions are not cached: the inputs are few and each evaluation takes microseconds.
// An error (wrapping ErrPolicy) means no decision could be made, for example because the
// active bundle has no control-plane policy: the caller must deny (fail closed).
func (e *Engine) DecideControlPlane(ctx context.Context, in ControlPlaneInput) (Decision, error) {
	return e.active.Load().evalControlPlane(ctx, &in)
}

// evalControlPlane evaluates the control-plane decision for in.
func (s *policySet) evalControlPlane(ctx context.Context, in *ControlPlaneInput) (Decision, error) {
	v, err := s.eval(ctx, queryControlPlane, controlPlaneInputValue(in))
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %s: %w", ErrPolicy, queries[queryControlPlane], err)
	}
	d, err := parseDecision(v)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %s: %w", ErrPolicy, queries[queryControlPlane], err)
	}
	return d, nil
}

// controlPlaneInputValue builds the Rego input as an AST object, as edgeInputValue does.
func controlPlaneInputValue(in *ControlPlaneInput) ast.Value {
	return ast.NewObject(
		ast.Item(ast.StringTerm("principal"), ast.NewTerm(ast.NewObject(
			ast.Item(ast.StringTerm("kind"), ast.StringTerm(in.Principal.Kind)),
			ast.Item(ast.StringTerm("role"), ast.StringTerm(in.Principal.Role)),
		))),
		ast.Item(ast.StringTerm("action"), ast.StringTerm(in.Action)),
	)
}

// hasPackage reports whether any module declares the package path (e.g. "data.a.b").
func hasPackage(modules map[string]*ast.Module, path string) bool {
	for _, m := range modules {
		if m.Package.Path.String() == path {
			return true
		}
	}
	return false
}
