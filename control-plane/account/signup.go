package account

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/control-plane/audit"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/ident"
	"github.com/steller/platform/control-plane/input"
	"github.com/steller/platform/control-plane/milestone"
)

// SignupRequest is what a new partner gives.
type SignupRequest struct {
	Company      string
	Name         string
	Email        string
	Password     string
	ReferralCode string
}

// SignupResult is everything signup created; the key secret and session token appear
// here once.
type SignupResult struct {
	PartnerID    string
	WorkspaceID  string
	UserID       string
	KeyID        string
	KeySecret    string
	BalanceCents int64
	Session      Session
}

// Signup creates, in one transaction, the partner, its workspace, the owner user and
// membership, the sandbox balance, the signed_up milestone, a sandbox API key and a
// session. A taken e-mail is a conflict; a weak password a validation error.
func (s *Service) Signup(ctx context.Context, req SignupRequest) (SignupResult, error) {
	req.Company = strings.TrimSpace(req.Company)
	req.Name = strings.TrimSpace(req.Name)
	email, err := NormalizeEmail("body.email", req.Email)
	if err != nil {
		return SignupResult{}, err
	}
	req.Email = email
	req.ReferralCode = strings.TrimSpace(req.ReferralCode)
	if req.Company == "" {
		return SignupResult{}, fault.Invalid("body.company", "company must not be blank", req.Company)
	}
	if req.Name == "" {
		return SignupResult{}, fault.Invalid("body.name", "name must not be blank", req.Name)
	}
	if err := errors.Join(input.PlainText("body.company", req.Company), input.PlainText("body.name", req.Name)); err != nil {
		return SignupResult{}, err
	}
	hash, err := s.HashPassword(ctx, req.Password, req.Email)
	if err != nil {
		return SignupResult{}, err
	}
	res := SignupResult{
		PartnerID:    ident.New("ptr"),
		WorkspaceID:  ident.New("ws"),
		UserID:       ident.New("usr"),
		BalanceCents: SandboxStartingBalanceCents,
	}
	err = inTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertPartnerSQL, res.PartnerID, req.Company, req.ReferralCode); err != nil {
			return fmt.Errorf("account: insert partner: %w", err)
		}
		if _, err := tx.Exec(ctx, insertWorkspaceSQL, res.WorkspaceID, res.PartnerID, req.Company); err != nil {
			return fmt.Errorf("account: insert workspace: %w", err)
		}
		if _, err := tx.Exec(ctx, insertUserSQL, res.UserID, req.Email, req.Name, hash); err != nil {
			return translate(err, "an account with this e-mail address already exists: sign in instead")
		}
		if _, err := tx.Exec(ctx, insertMemberSQL, res.WorkspaceID, res.UserID, auth.RoleOwner); err != nil {
			return fmt.Errorf("account: insert membership: %w", err)
		}
		if _, err := tx.Exec(ctx, insertSandboxSQL, res.PartnerID, res.BalanceCents); err != nil {
			return fmt.Errorf("account: insert sandbox account: %w", err)
		}
		if _, err := milestone.Record(ctx, tx, s.jobs, milestone.Reached{PartnerID: res.PartnerID,
			Milestone: milestone.SignedUp, At: s.clock(), EventID: res.PartnerID, Source: milestone.FromControlPlane}); err != nil {
			return fmt.Errorf("account: record signed_up: %w", err)
		}
		secret, keyID, err := s.keys.IssueSandboxKey(ctx, tx, res.PartnerID, res.WorkspaceID, res.UserID)
		if err != nil {
			return fmt.Errorf("account: issue sandbox key: %w", err)
		}
		res.KeyID, res.KeySecret = keyID, secret
		owner := auth.Principal{Kind: auth.KindUser, ID: res.UserID, PartnerID: res.PartnerID}
		entry := audit.FromPrincipal(owner, "partner.signed_up", res.PartnerID)
		entry.Details = map[string]any{"workspace_id": res.WorkspaceID, "sandbox_key_id": keyID}
		if err := audit.Record(ctx, tx, entry); err != nil {
			return err
		}
		res.Session, err = s.CreateSession(ctx, tx, auth.KindUser, res.UserID, res.WorkspaceID)
		return err
	})
	if err != nil {
		return SignupResult{}, err
	}
	s.log.InfoContext(ctx, "partner signed up", "partner_id", res.PartnerID, "user_id", res.UserID)
	return res, nil
}
