package workspace

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/control-plane/account"
)

// Deps are what the workspace operations need.
type Deps struct {
	// Workspaces is the workspace service.
	Workspaces *Service
	// Accounts sets the session cookie of an accepted invitation.
	Accounts *account.Service
}

// Operation ids of the workspace operations.
const (
	OpListMembers  = "list-members"
	OpChangeRole   = "update-member"
	OpRemoveMember = "remove-member"
	OpCreateInvite = "create-invite"
	OpListInvites  = "list-invites"
	OpRevokeInvite = "revoke-invite"
	OpAcceptInvite = "accept-invite"
)

const (
	membersTag = "Members"
	invitesTag = "Invitations"
)

type listInput struct {
	PageParams
}

type listMembersOutput struct{ Body MemberPage }

type memberInput struct {
	UserID string `path:"userId" maxLength:"64" doc:"The member's user id."`
}

type changeRoleInput struct {
	UserID string `path:"userId" maxLength:"64" doc:"The member's user id."`
	Body   struct {
		Role string `json:"role" enum:"owner,developer,finance"`
	}
}

type memberOutput struct{ Body Member }

type createInviteInput struct {
	Body struct {
		Email string `json:"email" format:"email" maxLength:"254"`
		Role  string `json:"role" enum:"owner,developer,finance"`
	}
}

type createInviteOutput struct{ Body CreatedInvite }

type listInvitesOutput struct{ Body InvitePage }

type inviteInput struct {
	InviteID string `path:"inviteId" maxLength:"64"`
}

type acceptInviteInput struct {
	Body struct {
		Token    string `json:"token" minLength:"1" maxLength:"128" doc:"The invitation token."`
		Name     string `json:"name,omitempty" maxLength:"200" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]*$" patternDescription:"text without control characters" doc:"Your name, to create a new account (omit when signed in)."`
		Password string `json:"password,omitempty" maxLength:"256" doc:"A password for the new account (omit when signed in)."`
	}
}

type acceptInviteOutput struct {
	SetCookie string `header:"Set-Cookie"`
	Body      Accepted
}

// Register adds the member and invitation operations to api.
func Register(api huma.API, deps Deps) {
	s := deps.Workspaces
	protected := []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity}
	huma.Register(api, huma.Operation{
		OperationID: OpListMembers, Method: http.MethodGet, Path: "/v1/workspace/members", Tags: []string{membersTag},
		Summary: "List members", Security: account.Security, Errors: protected,
	}, func(ctx context.Context, in *listInput) (*listMembersOutput, error) {
		page, err := s.ListMembers(ctx, in.Limit, in.Cursor)
		if err != nil {
			return nil, err
		}
		return &listMembersOutput{Body: page}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: OpChangeRole, Method: http.MethodPatch, Path: "/v1/workspace/members/{userId}", Tags: []string{membersTag},
		Summary: "Change a member's role", Description: "The last owner cannot be demoted (409).",
		Security: account.Security, Errors: append(protected, http.StatusNotFound, http.StatusConflict),
	}, func(ctx context.Context, in *changeRoleInput) (*memberOutput, error) {
		m, err := s.ChangeRole(ctx, in.UserID, in.Body.Role)
		if err != nil {
			return nil, err
		}
		return &memberOutput{Body: m}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: OpRemoveMember, Method: http.MethodDelete, Path: "/v1/workspace/members/{userId}", Tags: []string{membersTag},
		Summary: "Remove a member", Description: "Ends the member's sessions in this workspace. The last owner cannot be removed (409).",
		DefaultStatus: http.StatusNoContent, Security: account.Security,
		Errors: append(protected, http.StatusNotFound, http.StatusConflict),
	}, func(ctx context.Context, in *memberInput) (*struct{}, error) {
		if err := s.RemoveMember(ctx, in.UserID); err != nil {
			return nil, err
		}
		return nil, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: OpCreateInvite, Method: http.MethodPost, Path: "/v1/workspace/invites", Tags: []string{invitesTag},
		Summary:       "Invite someone",
		Description:   "Creates a single-use invitation valid for 7 days and returns its token once. E-mail delivery is not built yet: hand the token to the invitee.",
		DefaultStatus: http.StatusCreated, Security: account.Security, Errors: append(protected, http.StatusConflict),
	}, func(ctx context.Context, in *createInviteInput) (*createInviteOutput, error) {
		inv, err := s.CreateInvite(ctx, in.Body.Email, in.Body.Role)
		if err != nil {
			return nil, err
		}
		return &createInviteOutput{Body: inv}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: OpListInvites, Method: http.MethodGet, Path: "/v1/workspace/invites", Tags: []string{invitesTag},
		Summary: "List invitations", Security: account.Security, Errors: protected,
	}, func(ctx context.Context, in *listInput) (*listInvitesOutput, error) {
		page, err := s.ListInvites(ctx, in.Limit, in.Cursor)
		if err != nil {
			return nil, err
		}
		return &listInvitesOutput{Body: page}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: OpRevokeInvite, Method: http.MethodDelete, Path: "/v1/workspace/invites/{inviteId}", Tags: []string{invitesTag},
		Summary: "Revoke an invitation", DefaultStatus: http.StatusNoContent, Security: account.Security,
		Errors: append(protected, http.StatusNotFound, http.StatusConflict),
	}, func(ctx context.Context, in *inviteInput) (*struct{}, error) {
		if err := s.RevokeInvite(ctx, in.InviteID); err != nil {
			return nil, err
		}
		return nil, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: OpAcceptInvite, Method: http.MethodPost, Path: "/v1/public/invites/accept", Tags: []string{invitesTag},
		Summary:     "Accept an invitation",
		Description: "With a session, the signed-in user (whose e-mail was invited) joins; without one, name and password create the account. Expired, revoked or used tokens are 410.",
		Errors:      []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusGone, http.StatusUnprocessableEntity, http.StatusTooManyRequests},
	}, func(ctx context.Context, in *acceptInviteInput) (*acceptInviteOutput, error) {
		res, err := s.AcceptInvite(ctx, AcceptRequest{Token: in.Body.Token, Name: in.Body.Name, Password: in.Body.Password})
		if err != nil {
			return nil, err
		}
		return &acceptInviteOutput{SetCookie: deps.Accounts.Cookie(res.Session), Body: res}, nil
	})
}
