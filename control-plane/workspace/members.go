package workspace

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/control-plane/audit"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/page"
	"github.com/steller/platform/control-plane/rbac"
)

// SQL of the member store. Every statement is scoped by the caller's workspace id, so
// another tenant's user ids simply match nothing.
const (
	listMembersSQL = `SELECT m.user_id, u.email::text AS email, u.name, m.role, m.created_at
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.workspace_id = $1 AND (NOT $2 OR (m.created_at, m.user_id) < ($3, $4))
ORDER BY m.created_at DESC, m.user_id DESC
LIMIT $5`
	// lockWorkspaceSQL serializes membership changes of one workspace, so the "last
	// owner" check and the change it guards see the same owners. NO KEY UPDATE does not
	// block inserts that merely reference the workspace.
	lockWorkspaceSQL  = `SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE`
	memberRoleSQL     = `SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2`
	countOwnersSQL    = `SELECT count(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'`
	updateRoleSQL     = `UPDATE memberships SET role = $3 WHERE workspace_id = $1 AND user_id = $2`
	deleteMemberSQL   = `DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2`
	revokeSessionsSQL = `UPDATE sessions SET revoked_at = $3
WHERE subject_kind = 'user' AND subject_id = $2 AND workspace_id = $1 AND revoked_at IS NULL`
	memberSQL = `SELECT m.user_id, u.email::text AS email, u.name, m.role, m.created_at
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.workspace_id = $1 AND m.user_id = $2`
)

// Member is one person of a workspace with their role.
type Member struct {
	UserID    string    `json:"user_id" db:"user_id"`
	Email     string    `json:"email" db:"email"`
	Name      string    `json:"name" db:"name"`
	Role      string    `json:"role" db:"role" enum:"owner,developer,finance"`
	CreatedAt time.Time `json:"created_at" db:"created_at" doc:"When the person joined the workspace."`
}

// MemberPage is one page of members, newest first.
type MemberPage struct {
	Members    []Member `json:"members"`
	NextCursor string   `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

// ListMembers returns a page of the caller's workspace members.
func (s *Service) ListMembers(ctx context.Context, limit int, rawCursor string) (MemberPage, error) {
	p, err := rbac.Authorize(ctx, s.checker, rbac.MembersRead)
	if err != nil {
		return MemberPage{}, err
	}
	c, after, err := page.DecodeTimeKey(rawCursor)
	if err != nil {
		return MemberPage{}, err
	}
	rows, err := s.pool.Query(ctx, listMembersSQL, p.WorkspaceID, after, c.At, c.ID, limit+1)
	if err != nil {
		return MemberPage{}, translate(err, "members", "")
	}
	members, err := pgx.CollectRows(rows, pgx.RowToStructByName[Member])
	if err != nil {
		return MemberPage{}, translate(err, "members", "")
	}
	out := MemberPage{Members: members}
	if len(members) > limit {
		out.Members = members[:limit]
		last := out.Members[limit-1]
		out.NextCursor = page.TimeKey{At: last.CreatedAt, ID: last.UserID}.Encode()
	}
	return out, nil
}

// errLastOwner refuses to leave a workspace without an owner.
var errLastOwner = fault.New(fault.ErrConflict, "a workspace needs an owner: make someone else owner first")

// ChangeRole sets a member's role. Demoting the last owner is a conflict.
func (s *Service) ChangeRole(ctx context.Context, userID, role string) (Member, error) {
	p, err := rbac.Authorize(ctx, s.checker, rbac.MembersManage)
	if err != nil {
		return Member{}, err
	}
	var m Member
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := s.lockMember(ctx, tx, p, userID)
		if err != nil {
			return err
		}
		if old == auth.RoleOwner && role != auth.RoleOwner {
			if err := lastOwnerCheck(ctx, tx, p.WorkspaceID); err != nil {
				return err
			}
		}
		if old != role {
			if _, err := tx.Exec(ctx, updateRoleSQL, p.WorkspaceID, userID, role); err != nil {
				return translate(err, "member", "")
			}
			e := audit.FromPrincipal(p, "member.role_changed", userID)
			e.Details = map[string]any{"workspace_id": p.WorkspaceID, "from": old, "to": role}
			if err := audit.Record(ctx, tx, e); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, memberSQL, p.WorkspaceID, userID)
		if err != nil {
			return translate(err, "member", "")
		}
		m, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Member])
		return translate(err, "member", "")
	})
	if err != nil {
		return Member{}, err
	}
	return m, nil
}

// RemoveMember takes a person out of the caller's workspace and ends their sessions in
// it. Removing the last owner is a conflict.
func (s *Service) RemoveMember(ctx context.Context, userID string) error {
	p, err := rbac.Authorize(ctx, s.checker, rbac.MembersManage)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := s.lockMember(ctx, tx, p, userID)
		if err != nil {
			return err
		}
		if old == auth.RoleOwner {
			if err := lastOwnerCheck(ctx, tx, p.WorkspaceID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, deleteMemberSQL, p.WorkspaceID, userID); err != nil {
			return translate(err, "member", "")
		}
		if _, err := tx.Exec(ctx, revokeSessionsSQL, p.WorkspaceID, userID, s.clock()); err != nil {
			return translate(err, "sessions", "")
		}
		e := audit.FromPrincipal(p, "member.removed", userID)
		e.Details = map[string]any{"workspace_id": p.WorkspaceID, "role": old}
		return audit.Record(ctx, tx, e)
	})
}

// lockMember locks the workspace's membership changes and returns the member's role,
// or not found when the user is no member of this workspace (of another tenant, say).
// Under the lock it also re-checks the caller's own right with the caller's current
// role: a request authorized just before its caller was demoted must not act.
func (s *Service) lockMember(ctx context.Context, tx pgx.Tx, p auth.Principal, userID string) (string, error) {
	var id string
	if err := tx.QueryRow(ctx, lockWorkspaceSQL, p.WorkspaceID).Scan(&id); err != nil {
		return "", translate(err, "workspace", "")
	}
	var current string
	err := tx.QueryRow(ctx, memberRoleSQL, p.WorkspaceID, p.ID).Scan(&current)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fault.New(fault.ErrForbidden, "you are no longer a member of this workspace")
	}
	if err != nil {
		return "", translate(err, "caller", "")
	}
	if current != p.Role {
		p.Role = current
		if err := s.checker.Check(ctx, p, rbac.MembersManage); err != nil {
			return "", err
		}
	}
	var role string
	if err := tx.QueryRow(ctx, memberRoleSQL, p.WorkspaceID, userID).Scan(&role); err != nil {
		return "", translate(err, "member", "")
	}
	return role, nil
}

// lastOwnerCheck fails when the workspace has one owner left (the caller holds the lock).
func lastOwnerCheck(ctx context.Context, tx pgx.Tx, workspaceID string) error {
	var owners int
	if err := tx.QueryRow(ctx, countOwnersSQL, workspaceID).Scan(&owners); err != nil {
		return translate(err, "owners", "")
	}
	if owners <= 1 {
		return errLastOwner
	}
	return nil
}
