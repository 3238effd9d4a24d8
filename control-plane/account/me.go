package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
)

// Me describes the caller: a partner user in a workspace, or a platform admin.
type Me struct {
	Kind      string       `json:"kind" enum:"user,admin" doc:"Who is calling: a partner's user or a platform admin."`
	User      *MeUser      `json:"user,omitempty"`
	Admin     *MeUser      `json:"admin,omitempty"`
	Partner   *MePartner   `json:"partner,omitempty"`
	Workspace *MeWorkspace `json:"workspace,omitempty"`
	Role      string       `json:"role,omitempty" enum:"owner,developer,finance"`
}

// MeUser is a person.
type MeUser struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// MePartner is the caller's company.
type MePartner struct {
	ID           string `json:"id"`
	Company      string `json:"company"`
	Status       string `json:"status" enum:"active,suspended"`
	LiveApproved bool   `json:"live_approved"`
}

// MeWorkspace is the workspace the session acts in.
type MeWorkspace struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Me returns what the caller's session stands for.
func (s *Service) Me(ctx context.Context, p auth.Principal) (Me, error) {
	if p.Kind == auth.KindAdmin {
		var a MeUser
		if err := s.pool.QueryRow(ctx, meAdminSQL, p.ID).Scan(&a.ID, &a.Email, &a.Name); err != nil {
			return Me{}, s.meErr(err)
		}
		return Me{Kind: string(auth.KindAdmin), Admin: &a}, nil
	}
	var (
		u  MeUser
		pt MePartner
		ws MeWorkspace
		me = Me{Kind: string(auth.KindUser)}
	)
	err := s.pool.QueryRow(ctx, meUserSQL, p.ID, p.WorkspaceID).Scan(
		&u.ID, &u.Email, &u.Name, &pt.ID, &pt.Company, &pt.Status, &pt.LiveApproved, &ws.ID, &ws.Name, &me.Role)
	if err != nil {
		return Me{}, s.meErr(err)
	}
	me.User, me.Partner, me.Workspace = &u, &pt, &ws
	return me, nil
}

func (s *Service) meErr(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fault.New(fault.ErrUnauthorized, "the session no longer stands for an account")
	}
	return fmt.Errorf("account: me: %w", err)
}
