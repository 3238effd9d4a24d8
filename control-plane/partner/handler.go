package partner

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/control-plane/rbac"
)

// Deps are what the admin partner operations need.
type Deps struct {
	// Partners is the partner service (required).
	Partners *Service
	// RBAC decides admin.partners.read, admin.partners.manage and admin.audit.read (required).
	RBAC rbac.Checker
}

type listInput struct {
	Q      string `query:"q" maxLength:"200" doc:"Substring of the company name or of a member's e-mail address."`
	Status string `query:"status" enum:"active,suspended," doc:"Only partners with this status."`
	Cursor string `query:"cursor" maxLength:"512"`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

type listOutput struct {
	Body PartnerList
}

// PartnerList is one page of partners (a named type: Huma names schemas by type, and body
// types must have distinct names across the whole API).
type PartnerList struct {
	Partners   []Partner `json:"partners"`
	NextCursor string    `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

type idInput struct {
	PartnerID string `path:"partnerId" maxLength:"64"`
}

type reasonInput struct {
	PartnerID string `path:"partnerId" maxLength:"64"`
	Body      SuspendPartnerBody
}

// SuspendPartnerBody says why a partner is suspended.
type SuspendPartnerBody struct {
	_      struct{} `additionalProperties:"false"`
	Reason string   `json:"reason" minLength:"1" maxLength:"500" doc:"Why; kept in the audit log."`
}

type optionalReasonInput struct {
	PartnerID string `path:"partnerId" maxLength:"64"`
	Body      *ReinstatePartnerBody
}

// ReinstatePartnerBody optionally says why a partner is reinstated.
type ReinstatePartnerBody struct {
	_      struct{} `additionalProperties:"false"`
	Reason string   `json:"reason,omitempty" maxLength:"500"`
}

type partnerOutput struct {
	Body Partner
}

type auditInput struct {
	PartnerID string    `query:"partner_id" maxLength:"64"`
	Action    string    `query:"action" maxLength:"100" doc:"Exact action, e.g. key.revoked."`
	From      time.Time `query:"from" doc:"Entries at or after this time."`
	To        time.Time `query:"to" doc:"Entries before this time."`
	Cursor    string    `query:"cursor" maxLength:"512"`
	Limit     int       `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

type auditOutput struct {
	Body AuditLog
}

// AuditLog is one page of the audit log.
type AuditLog struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

// Register adds the admin partner and audit log operations to api.
func Register(api huma.API, d Deps) {
	if d.Partners == nil || d.RBAC == nil {
		panic(errors.New("partner.Register: Deps.Partners and Deps.RBAC are required"))
	}
	tags := []string{"Admin"}
	huma.Register(api, huma.Operation{
		OperationID: "admin-list-partners", Method: http.MethodGet, Path: "/v1/admin/partners", Tags: tags,
		Summary: "List and search partners", Description: "Newest first; q matches the company or a member's e-mail.",
	}, func(ctx context.Context, in *listInput) (*listOutput, error) {
		if _, err := rbac.Authorize(ctx, d.RBAC, rbac.AdminPartnersRead); err != nil {
			return nil, err
		}
		page, err := d.Partners.List(ctx, Filter{Query: in.Q, Status: in.Status}, in.Cursor, in.Limit)
		if err != nil {
			return nil, err
		}
		out := &listOutput{}
		out.Body.Partners, out.Body.NextCursor = page.Partners, page.NextCursor
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-get-partner", Method: http.MethodGet, Path: "/v1/admin/partners/{partnerId}", Tags: tags,
		Summary: "Get a partner",
	}, func(ctx context.Context, in *idInput) (*partnerOutput, error) {
		if _, err := rbac.Authorize(ctx, d.RBAC, rbac.AdminPartnersRead); err != nil {
			return nil, err
		}
		p, err := d.Partners.Get(ctx, in.PartnerID)
		if err != nil {
			return nil, err
		}
		return &partnerOutput{Body: p}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-suspend-partner", Method: http.MethodPost, Path: "/v1/admin/partners/{partnerId}/suspend", Tags: tags,
		Summary: "Suspend a partner", Description: "Every key of the partner is denied (partner_suspended) at every edge within about a second.",
	}, func(ctx context.Context, in *reasonInput) (*partnerOutput, error) {
		p, err := rbac.Authorize(ctx, d.RBAC, rbac.AdminPartnersManage)
		if err != nil {
			return nil, err
		}
		out, err := d.Partners.Suspend(ctx, p, in.PartnerID, in.Body.Reason)
		if err != nil {
			return nil, err
		}
		return &partnerOutput{Body: out}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-reinstate-partner", Method: http.MethodPost, Path: "/v1/admin/partners/{partnerId}/reinstate", Tags: tags,
		Summary: "Reinstate a suspended partner",
	}, func(ctx context.Context, in *optionalReasonInput) (*partnerOutput, error) {
		p, err := rbac.Authorize(ctx, d.RBAC, rbac.AdminPartnersManage)
		if err != nil {
			return nil, err
		}
		reason := ""
		if in.Body != nil {
			reason = in.Body.Reason
		}
		out, err := d.Partners.Reinstate(ctx, p, in.PartnerID, reason)
		if err != nil {
			return nil, err
		}
		return &partnerOutput{Body: out}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-approve-partner-live", Method: http.MethodPost, Path: "/v1/admin/partners/{partnerId}/approve-live", Tags: tags,
		Summary: "Approve a partner for live keys",
	}, func(ctx context.Context, in *idInput) (*partnerOutput, error) {
		p, err := rbac.Authorize(ctx, d.RBAC, rbac.AdminPartnersManage)
		if err != nil {
			return nil, err
		}
		out, err := d.Partners.ApproveLive(ctx, p, in.PartnerID)
		if err != nil {
			return nil, err
		}
		return &partnerOutput{Body: out}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-list-audit", Method: http.MethodGet, Path: "/v1/admin/audit", Tags: tags,
		Summary: "Read the audit log", Description: "Security-relevant actions (keys, members, policies, suspensions), newest first.",
	}, func(ctx context.Context, in *auditInput) (*auditOutput, error) {
		if _, err := rbac.Authorize(ctx, d.RBAC, rbac.AdminAuditRead); err != nil {
			return nil, err
		}
		f := AuditFilter{PartnerID: in.PartnerID, Action: in.Action}
		if !in.From.IsZero() {
			f.From = &in.From
		}
		if !in.To.IsZero() {
			f.To = &in.To
		}
		page, err := d.Partners.Audit(ctx, f, in.Cursor, in.Limit)
		if err != nil {
			return nil, err
		}
		out := &auditOutput{}
		out.Body.Entries, out.Body.NextCursor = page.Entries, page.NextCursor
		return out, nil
	})
}
