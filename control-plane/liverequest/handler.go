package liverequest

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/rbac"
)

// Deps are what the live request operations need.
type Deps struct {
	// Service records requests and reviews (required).
	Service *Service
	// RBAC decides live.request, live.read, admin.partners.read and admin.partners.manage
	// (required).
	RBAC rbac.Checker
}

// CreateLiveRequestBody is what a partner tells the admin who reviews its request.
type CreateLiveRequestBody struct {
	_                     struct{} `additionalProperties:"false"`
	LegalName             string   `json:"legal_name" minLength:"2" maxLength:"200" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]*$" patternDescription:"text without control characters" doc:"The business's registered legal name."`
	Website               string   `json:"website" minLength:"8" maxLength:"2048" pattern:"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@ ]+([/?][^# ]*)?$" patternDescription:"an absolute http(s) URL without credentials or fragment" doc:"The business's website."`
	Country               string   `json:"country" pattern:"^[A-Z]{2}$" doc:"Country of registration, ISO 3166-1 alpha-2 (e.g. US, DE)."`
	ExpectedMonthlyVolume int64    `json:"expected_monthly_volume_cents" minimum:"100" maximum:"100000000000000" doc:"Expected live order volume per month, in US cents (at least 100)."`
	UseCase               string   `json:"use_case" minLength:"20" maxLength:"2000" doc:"What the business sells gift cards for, to whom, and how (at least 20 characters)."`
}

// RejectLiveRequestBody says why a request is rejected.
type RejectLiveRequestBody struct {
	_      struct{} `additionalProperties:"false"`
	Reason string   `json:"reason" minLength:"1" maxLength:"1000" pattern:"\\S" patternDescription:"text with at least one non-space character" doc:"Why; the partner sees it."`
}

// LiveRequestList is one page of live requests.
type LiveRequestList struct {
	Requests   []LiveRequest `json:"requests"`
	NextCursor string        `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

// ReviewedLiveRequest is a live request as admins see it: with its readiness report.
type ReviewedLiveRequest struct {
	LiveRequest
	Readiness Report `json:"readiness" doc:"The go-live readiness report, computed now from the partner's sandbox traffic."`
}

type (
	createInput struct{ Body CreateLiveRequestBody }
	listInput   struct {
		Cursor string `query:"cursor" maxLength:"512"`
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
	}
	adminListInput struct {
		Status    string `query:"status" enum:"pending,approved,rejected," doc:"Only requests with this status."`
		PartnerID string `query:"partner_id" maxLength:"64" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]*$"`
		Cursor    string `query:"cursor" maxLength:"512"`
		Limit     int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
	}
	idInput struct {
		ID string `path:"requestId" maxLength:"64" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]+$"`
	}
	rejectInput struct {
		ID   string `path:"requestId" maxLength:"64" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]+$"`
		Body RejectLiveRequestBody
	}
	requestOutput struct{ Body LiveRequest }
	listOutput    struct{ Body LiveRequestList }
	reviewOutput  struct{ Body ReviewedLiveRequest }
)

// Register adds /v1/live-requests and /v1/admin/live-requests to api.
func Register(api huma.API, d Deps) {
	if d.Service == nil || d.RBAC == nil {
		panic(errors.New("liverequest.Register: Deps.Service and Deps.RBAC are required"))
	}
	tags := []string{"Going live"}
	huma.Register(api, huma.Operation{OperationID: "create-live-request", Method: http.MethodPost, Path: "/v1/live-requests",
		Tags: tags, Summary: "Ask for live access", DefaultStatus: http.StatusCreated,
		Description: "Owners only. One open request at a time (409 live_request_pending); a partner already live gets 409 already_live."},
		func(ctx context.Context, in *createInput) (*requestOutput, error) {
			p, err := rbac.Authorize(ctx, d.RBAC, rbac.LiveRequest)
			if err != nil {
				return nil, err
			}
			r, err := d.Service.Create(ctx, p, Details{LegalName: in.Body.LegalName, Website: in.Body.Website, Country: in.Body.Country,
				ExpectedMonthlyVolume: in.Body.ExpectedMonthlyVolume, UseCase: in.Body.UseCase})
			if err != nil {
				return nil, err
			}
			return &requestOutput{Body: r}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "list-live-requests", Method: http.MethodGet, Path: "/v1/live-requests",
		Tags: tags, Summary: "Your live requests", Description: "Newest first, with each one's status and, when rejected, the reason."},
		func(ctx context.Context, in *listInput) (*listOutput, error) {
			p, err := rbac.Authorize(ctx, d.RBAC, rbac.LiveRead)
			if err != nil {
				return nil, err
			}
			if p.PartnerID == "" {
				return nil, fault.New(fault.ErrForbidden, "live requests belong to a partner: sign in as a workspace member")
			}
			pg, err := d.Service.List(ctx, Filter{PartnerID: p.PartnerID}, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			return &listOutput{Body: LiveRequestList(pg)}, nil
		})

	admin := []string{"Admin"}
	huma.Register(api, huma.Operation{OperationID: "admin-list-live-requests", Method: http.MethodGet, Path: "/v1/admin/live-requests",
		Tags: admin, Summary: "List live requests", Description: "Newest first; filter by status or partner."},
		func(ctx context.Context, in *adminListInput) (*listOutput, error) {
			if _, err := rbac.Authorize(ctx, d.RBAC, rbac.AdminPartnersRead); err != nil {
				return nil, err
			}
			pg, err := d.Service.List(ctx, Filter{PartnerID: in.PartnerID, Status: in.Status}, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			return &listOutput{Body: LiveRequestList(pg)}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "admin-get-live-request", Method: http.MethodGet, Path: "/v1/admin/live-requests/{requestId}",
		Tags: admin, Summary: "A live request with its readiness report"},
		func(ctx context.Context, in *idInput) (*reviewOutput, error) {
			if _, err := rbac.Authorize(ctx, d.RBAC, rbac.AdminPartnersRead); err != nil {
				return nil, err
			}
			r, err := d.Service.Get(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			rep, err := d.Service.Readiness(ctx, r.PartnerID)
			if err != nil {
				return nil, err
			}
			return &reviewOutput{Body: ReviewedLiveRequest{LiveRequest: r, Readiness: rep}}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "admin-approve-live-request", Method: http.MethodPost,
		Path: "/v1/admin/live-requests/{requestId}/approve", Tags: admin, Summary: "Approve a live request",
		Description: "Approves the partner for live keys (the approve-live step) and records live_approved, in one transaction."},
		func(ctx context.Context, in *idInput) (*requestOutput, error) {
			p, err := rbac.Authorize(ctx, d.RBAC, rbac.AdminPartnersManage)
			if err != nil {
				return nil, err
			}
			r, err := d.Service.Approve(ctx, p, in.ID)
			if err != nil {
				return nil, err
			}
			return &requestOutput{Body: r}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "admin-reject-live-request", Method: http.MethodPost,
		Path: "/v1/admin/live-requests/{requestId}/reject", Tags: admin, Summary: "Reject a live request",
		Description: "The reason is required; the partner sees it and may ask again."},
		func(ctx context.Context, in *rejectInput) (*requestOutput, error) {
			p, err := rbac.Authorize(ctx, d.RBAC, rbac.AdminPartnersManage)
			if err != nil {
				return nil, err
			}
			r, err := d.Service.Reject(ctx, p, in.ID, in.Body.Reason)
			if err != nil {
				return nil, err
			}
			return &requestOutput{Body: r}, nil
		})
}
