package account

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/control-plane/auth"
)

// Operation ids of the account operations (the API shell rate-limits the sign-in ones).
const (
	OpSignup     = "signup"
	OpLogin      = "login"
	OpAdminLogin = "admin-login"
	OpLogout     = "logout"
	OpMe         = "get-me"
)

// Security is the OpenAPI security requirement of operations that need a session: a
// bearer session token or the portal's cookie (scheme names registered by the API shell).
var Security = []map[string][]string{{"sessionBearer": {}}, {"sessionCookie": {}}}

// Deps are what the account operations need.
type Deps struct {
	// Accounts is the account service.
	Accounts *Service
}

const tag = "Accounts"

type signupInput struct {
	Body struct {
		Company      string `json:"company" minLength:"1" maxLength:"200" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]*$" patternDescription:"text without control characters" doc:"The partner's company name."`
		Name         string `json:"name" minLength:"1" maxLength:"200" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]*$" patternDescription:"text without control characters" doc:"The owner's full name."`
		Email        string `json:"email" format:"email" maxLength:"254"`
		Password     string `json:"password" minLength:"1" maxLength:"256" doc:"At least 12 characters mixing two of lower case, upper case, digits and symbols."`
		ReferralCode string `json:"referral_code,omitempty" maxLength:"64" doc:"A referral code another partner shared."`
	}
}

// SignupBody is the answer to a signup: the secret and the session token appear once.
type SignupBody struct {
	Partner   MePartner   `json:"partner"`
	Workspace MeWorkspace `json:"workspace"`
	User      MeUser      `json:"user"`
	Role      string      `json:"role"`
	Sandbox   struct {
		BalanceCents int64  `json:"balance_cents" doc:"Fake USD for the sandbox, in cents."`
		Currency     string `json:"currency"`
	} `json:"sandbox"`
	APIKey struct {
		ID          string `json:"id"`
		Environment string `json:"environment"`
		Secret      string `json:"secret" doc:"The sandbox API key. Shown once: store it now."`
	} `json:"api_key"`
	Session Session `json:"session"`
}

type sessionOutput[B any] struct {
	SetCookie string `header:"Set-Cookie"`
	Body      B
}

type loginInput struct {
	Body struct {
		Email       string `json:"email" format:"email" maxLength:"254"`
		Password    string `json:"password" minLength:"1" maxLength:"256"`
		WorkspaceID string `json:"workspace_id,omitempty" maxLength:"64" doc:"Workspace to act in; the oldest membership when absent."`
	}
}

// LoginBody is a started session.
type LoginBody struct {
	Session     Session `json:"session"`
	UserID      string  `json:"user_id,omitempty"`
	WorkspaceID string  `json:"workspace_id,omitempty"`
	AdminID     string  `json:"admin_id,omitempty"`
}

type adminLoginInput struct {
	Body struct {
		Email    string `json:"email" format:"email" maxLength:"254"`
		Password string `json:"password" minLength:"1" maxLength:"256"`
	}
}

type logoutOutput struct {
	SetCookie string `header:"Set-Cookie"`
}

type meOutput struct {
	Body Me
}

// Register adds the account operations to api.
func Register(api huma.API, deps Deps) {
	s := deps.Accounts
	huma.Register(api, huma.Operation{
		OperationID: OpSignup, Method: http.MethodPost, Path: "/v1/public/signup", Tags: []string{tag},
		Summary:       "Sign up a new partner",
		Description:   "Creates the partner, its workspace, the owner, a sandbox balance and a sandbox API key, and signs the owner in.",
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusConflict, http.StatusUnprocessableEntity, http.StatusTooManyRequests},
	}, func(ctx context.Context, in *signupInput) (*sessionOutput[SignupBody], error) {
		res, err := s.Signup(ctx, SignupRequest{
			Company: in.Body.Company, Name: in.Body.Name, Email: in.Body.Email,
			Password: in.Body.Password, ReferralCode: in.Body.ReferralCode,
		})
		if err != nil {
			return nil, err
		}
		out := &sessionOutput[SignupBody]{SetCookie: s.Cookie(res.Session)}
		b := &out.Body
		b.Partner = MePartner{ID: res.PartnerID, Company: in.Body.Company, Status: "active"}
		b.Workspace = MeWorkspace{ID: res.WorkspaceID, Name: in.Body.Company}
		b.User = MeUser{ID: res.UserID, Email: in.Body.Email, Name: in.Body.Name}
		b.Role = auth.RoleOwner
		b.Sandbox.BalanceCents, b.Sandbox.Currency = res.BalanceCents, "USD"
		b.APIKey.ID, b.APIKey.Environment, b.APIKey.Secret = res.KeyID, "test", res.KeySecret
		b.Session = res.Session
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: OpLogin, Method: http.MethodPost, Path: "/v1/auth/login", Tags: []string{tag},
		Summary: "Sign in", Description: "Checks the password and starts a session (cookie and bearer token).",
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests},
	}, func(ctx context.Context, in *loginInput) (*sessionOutput[LoginBody], error) {
		res, err := s.Login(ctx, in.Body.Email, in.Body.Password, in.Body.WorkspaceID)
		if err != nil {
			return nil, err
		}
		return &sessionOutput[LoginBody]{SetCookie: s.Cookie(res.Session), Body: LoginBody{
			Session: res.Session, UserID: res.UserID, WorkspaceID: res.WorkspaceID,
		}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: OpAdminLogin, Method: http.MethodPost, Path: "/v1/admin/auth/login", Tags: []string{tag},
		Summary: "Sign in as a platform admin",
		Errors:  []int{http.StatusUnauthorized, http.StatusTooManyRequests},
	}, func(ctx context.Context, in *adminLoginInput) (*sessionOutput[LoginBody], error) {
		sess, id, err := s.AdminLogin(ctx, in.Body.Email, in.Body.Password)
		if err != nil {
			return nil, err
		}
		return &sessionOutput[LoginBody]{SetCookie: s.Cookie(sess), Body: LoginBody{Session: sess, AdminID: id}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: OpLogout, Method: http.MethodPost, Path: "/v1/auth/logout", Tags: []string{tag},
		Summary: "Sign out", Description: "Revokes the session and clears the cookie.",
		DefaultStatus: http.StatusNoContent, Security: Security,
		Errors: []int{http.StatusUnauthorized},
	}, func(ctx context.Context, _ *struct{}) (*logoutOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		if err := s.Logout(ctx, p); err != nil {
			return nil, err
		}
		return &logoutOutput{SetCookie: s.Cookie(Session{})}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: OpMe, Method: http.MethodGet, Path: "/v1/me", Tags: []string{tag},
		Summary: "Who am I", Description: "The signed-in user with partner, workspace and role, or the platform admin.",
		Security: Security, Errors: []int{http.StatusUnauthorized},
	}, func(ctx context.Context, _ *struct{}) (*meOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		me, err := s.Me(ctx, p)
		if err != nil {
			return nil, err
		}
		return &meOutput{Body: me}, nil
	})
}
