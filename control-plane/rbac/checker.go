package rbac

import (
	"context"
	"errors"
	"fmt"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/policies"
)

// Decider is the part of the policy engine the Checker needs (*policies.Engine).
type Decider interface {
	DecideControlPlane(ctx context.Context, in policies.ControlPlaneInput) (policies.Decision, error)
}

// PolicyChecker is the Checker backed by the OPA policy data.steller.controlplane.decision.
type PolicyChecker struct {
	engine Decider
}

// New returns a Checker deciding with engine's active policy bundle.
func New(engine Decider) (*PolicyChecker, error) {
	if engine == nil {
		return nil, errors.New("rbac: a policy engine is required")
	}
	return &PolicyChecker{engine: engine}, nil
}

// Check implements Checker: a denial is a fault.ErrForbidden carrying the policy's
// reason; a policy that cannot decide is fault.ErrUnavailable with the code policy_error
// (503, the request is refused, the cause logged), never a 403.
func (c *PolicyChecker) Check(ctx context.Context, p auth.Principal, action string) error {
	d, err := c.engine.DecideControlPlane(ctx, policies.ControlPlaneInput{
		Principal: policies.ControlPlanePrincipal{Kind: string(p.Kind), Role: p.Role},
		Action:    action,
	})
	if err != nil {
		return fault.Wrap(fault.ErrUnavailable, fault.CodePolicyError,
			"authorization is unavailable right now; retry shortly", fmt.Errorf("rbac: decide %s: %w", action, err))
	}
	if !d.Allow {
		return fault.New(fault.ErrForbidden, d.Reason)
	}
	return nil
}

// Authorize returns the request's principal once it may perform action: unauthorized
// without a signed-in caller, forbidden when the policy denies.
func Authorize(ctx context.Context, c Checker, action string) (auth.Principal, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return auth.Principal{}, err
	}
	if err := c.Check(ctx, p, action); err != nil {
		return auth.Principal{}, err
	}
	return p, nil
}
