package onboarding

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/rbac"
)

// Deps are what the onboarding operations need.
type Deps struct {
	// Service computes the views (required).
	Service *Service
	// RBAC decides workspace.read, logs.read and admin.partners.read (required).
	RBAC rbac.Checker
}

type (
	onboardingOutput struct{ Body Onboarding }
	adminInput       struct {
		PartnerID string `path:"partnerId" maxLength:"64" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]+$"`
	}
)

// Register adds GET /v1/onboarding and GET /v1/admin/partners/{partnerId}/onboarding to api.
func Register(api huma.API, d Deps) {
	if d.Service == nil || d.RBAC == nil {
		panic(errors.New("onboarding.Register: Deps.Service and Deps.RBAC are required"))
	}
	huma.Register(api, huma.Operation{OperationID: "get-onboarding", Method: http.MethodGet, Path: "/v1/onboarding",
		Tags: []string{"Onboarding"}, Summary: "Your onboarding progress",
		Description: "The checklist of milestones with each one's time, the next step with the guide and portal page " +
			"that do it, the times to value, and a hint when your requests have been failing since your last success " +
			"(for roles that may read request logs; stuck_state says why it is absent)."},
		func(ctx context.Context, _ *struct{}) (*onboardingOutput, error) {
			p, err := rbac.Authorize(ctx, d.RBAC, rbac.WorkspaceRead)
			if err != nil {
				return nil, err
			}
			if p.PartnerID == "" {
				return nil, fault.New(fault.ErrForbidden, "onboarding belongs to a partner: sign in as a workspace member")
			}
			logs, err := mayReadLogs(ctx, d.RBAC, p)
			if err != nil {
				return nil, err
			}
			o, err := d.Service.Get(ctx, p.PartnerID, logs)
			if err != nil {
				return nil, err
			}
			return &onboardingOutput{Body: o}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "admin-get-partner-onboarding", Method: http.MethodGet,
		Path: "/v1/admin/partners/{partnerId}/onboarding", Tags: []string{"Admin"},
		Summary: "A partner's onboarding progress", Description: "The partner's own onboarding view, stuck hint included."},
		func(ctx context.Context, in *adminInput) (*onboardingOutput, error) {
			if _, err := rbac.Authorize(ctx, d.RBAC, rbac.AdminPartnersRead); err != nil {
				return nil, err
			}
			o, err := d.Service.Get(ctx, in.PartnerID, true)
			if err != nil {
				return nil, err
			}
			return &onboardingOutput{Body: o}, nil
		})
}

// mayReadLogs reports whether p may read request logs; a policy that cannot decide is an
// error, not a no.
func mayReadLogs(ctx context.Context, c rbac.Checker, p auth.Principal) (bool, error) {
	err := c.Check(ctx, p, rbac.LogsRead)
	if errors.Is(err, fault.ErrForbidden) {
		return false, nil
	}
	return err == nil, err
}
