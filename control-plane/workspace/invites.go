package workspace

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/audit"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/ident"
	"github.com/steller/platform/control-plane/input"
	"github.com/steller/platform/control-plane/page"
	"github.com/steller/platform/control-plane/rbac"
)

// SQL of the invitation store.
const (
	insertInviteSQL = `INSERT INTO invites (id, workspace_id, email, role, token_hash, invited_by, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	isMemberByEmailSQL = `SELECT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.workspace_id = $1 AND u.email = $2)`
	inviteColumns  = `id, email::text AS email, role, created_at, expires_at, accepted_at, revoked_at`
	listInvitesSQL = `SELECT ` + inviteColumns + ` FROM invites
WHERE workspace_id = $1 AND (NOT $2 OR (created_at, id) < ($3, $4))
ORDER BY created_at DESC, id DESC
LIMIT $5`
	lockInviteSQL   = `SELECT ` + inviteColumns + ` FROM invites WHERE id = $1 AND workspace_id = $2 FOR UPDATE`
	revokeInviteSQL = `UPDATE invites SET revoked_at = $2 WHERE id = $1`
	// inviteByTokenSQL locks the invitation being accepted, so two acceptances of one
	// token run one after the other and the second sees it used.
	inviteByTokenSQL = `SELECT i.id, i.workspace_id, w.partner_id, i.email::text, i.role, i.expires_at,
	i.accepted_at IS NOT NULL, i.revoked_at IS NOT NULL
FROM invites i JOIN workspaces w ON w.id = i.workspace_id
WHERE i.token_hash = $1
FOR UPDATE OF i`
	userByEmailSQL    = `SELECT id FROM users WHERE email = $1`
	insertUserSQL     = `INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)`
	insertMemberSQL   = `INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3)`
	markAcceptedSQL   = `UPDATE invites SET accepted_at = $2, accepted_by = $3 WHERE id = $1`
	inviteTokenPrefix = "stinv_"
)

// Invite is an invitation as listed (never with its token).
type Invite struct {
	ID         string     `json:"id" db:"id"`
	Email      string     `json:"email" db:"email"`
	Role       string     `json:"role" db:"role" enum:"owner,developer,finance"`
	Status     string     `json:"status" db:"-" enum:"pending,accepted,revoked,expired"`
	CreatedAt  time.Time  `json:"created_at" db:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at" db:"expires_at"`
	AcceptedAt *time.Time `json:"accepted_at,omitempty" db:"accepted_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty" db:"revoked_at"`
}

func (i *Invite) setStatus(now time.Time) {
	switch {
	case i.AcceptedAt != nil:
		i.Status = "accepted"
	case i.RevokedAt != nil:
		i.Status = "revoked"
	case !now.Before(i.ExpiresAt):
		i.Status = "expired"
	default:
		i.Status = "pending"
	}
}

// InvitePage is one page of invitations, newest first.
type InvitePage struct {
	Invites    []Invite `json:"invites"`
	NextCursor string   `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

// CreatedInvite is a new invitation with its token, shown once.
type CreatedInvite struct {
	Invite
	Token string `json:"token" doc:"The single-use invitation token. Shown once: send it to the invitee, who accepts it at POST /v1/public/invites/accept. (E-mail delivery is not built yet.)"`
}

// hashInviteToken is the stored form of an invitation token.
func hashInviteToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// CreateInvite invites email into the caller's workspace with role.
func (s *Service) CreateInvite(ctx context.Context, email, role string) (CreatedInvite, error) {
	p, err := rbac.Authorize(ctx, s.checker, rbac.MembersManage)
	if err != nil {
		return CreatedInvite{}, err
	}
	email, err = account.NormalizeEmail("body.email", email)
	if err != nil {
		return CreatedInvite{}, err
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails on Linux
	now := s.clock()
	out := CreatedInvite{
		Invite: Invite{ID: ident.New("inv"), Email: email, Role: role, Status: "pending", CreatedAt: now, ExpiresAt: now.Add(s.inviteTTL)},
		Token:  inviteTokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:]),
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var member bool
		if err := tx.QueryRow(ctx, isMemberByEmailSQL, p.WorkspaceID, email).Scan(&member); err != nil {
			return translate(err, "members", "")
		}
		if member {
			return fault.New(fault.ErrConflict, "this person is already a member of the workspace")
		}
		if _, err := tx.Exec(ctx, insertInviteSQL, out.ID, p.WorkspaceID, email, role,
			hashInviteToken(out.Token), p.ID, now, out.ExpiresAt); err != nil {
			return translate(err, "invite", "")
		}
		e := audit.FromPrincipal(p, "invite.created", out.ID)
		e.Details = map[string]any{"workspace_id": p.WorkspaceID, "email": email, "role": role}
		return audit.Record(ctx, tx, e)
	})
	if err != nil {
		return CreatedInvite{}, err
	}
	return out, nil
}

// ListInvites returns a page of the caller's workspace invitations, newest first.
func (s *Service) ListInvites(ctx context.Context, limit int, rawCursor string) (InvitePage, error) {
	p, err := rbac.Authorize(ctx, s.checker, rbac.MembersRead)
	if err != nil {
		return InvitePage{}, err
	}
	c, after, err := page.DecodeTimeKey(rawCursor)
	if err != nil {
		return InvitePage{}, err
	}
	rows, err := s.pool.Query(ctx, listInvitesSQL, p.WorkspaceID, after, c.At, c.ID, limit+1)
	if err != nil {
		return InvitePage{}, translate(err, "invites", "")
	}
	invites, err := pgx.CollectRows(rows, pgx.RowToStructByName[Invite])
	if err != nil {
		return InvitePage{}, translate(err, "invites", "")
	}
	now := s.clock()
	for i := range invites {
		invites[i].setStatus(now)
	}
	out := InvitePage{Invites: invites}
	if len(invites) > limit {
		out.Invites = invites[:limit]
		last := out.Invites[limit-1]
		out.NextCursor = page.TimeKey{At: last.CreatedAt, ID: last.ID}.Encode()
	}
	return out, nil
}

// RevokeInvite withdraws a pending invitation of the caller's workspace. Revoking it
// again changes nothing; an accepted one cannot be revoked (remove the member instead).
func (s *Service) RevokeInvite(ctx context.Context, inviteID string) error {
	p, err := rbac.Authorize(ctx, s.checker, rbac.MembersManage)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, lockInviteSQL, inviteID, p.WorkspaceID)
		if err != nil {
			return translate(err, "invite", "")
		}
		inv, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Invite])
		if err != nil {
			return translate(err, "invite", "")
		}
		switch {
		case inv.RevokedAt != nil:
			return nil
		case inv.AcceptedAt != nil:
			return fault.New(fault.ErrConflict, "the invitation was already accepted: remove the member instead")
		}
		if _, err := tx.Exec(ctx, revokeInviteSQL, inviteID, s.clock()); err != nil {
			return translate(err, "invite", "")
		}
		e := audit.FromPrincipal(p, "invite.revoked", inviteID)
		e.Details = map[string]any{"workspace_id": p.WorkspaceID, "email": inv.Email}
		return audit.Record(ctx, tx, e)
	})
}

// AcceptRequest accepts an invitation: with the caller's session (an existing user whose
// e-mail is the invited one), or with a name and password for a new user.
type AcceptRequest struct {
	Token    string
	Name     string
	Password string
}

// Accepted is the membership an accepted invitation created, with a session in it.
type Accepted struct {
	UserID      string          `json:"user_id"`
	PartnerID   string          `json:"partner_id"`
	WorkspaceID string          `json:"workspace_id"`
	Role        string          `json:"role"`
	Session     account.Session `json:"session"`
}

var errInviteUnknown = fault.New(fault.ErrNotFound, "no invitation has this token")

// AcceptInvite turns a valid invitation into a membership, in one transaction. An
// expired, revoked or already used token is gone (410); nothing is written then.
func (s *Service) AcceptInvite(ctx context.Context, req AcceptRequest) (Accepted, error) {
	caller, signedIn := auth.FromContext(ctx)
	if signedIn && caller.Kind != auth.KindUser {
		return Accepted{}, fault.New(fault.ErrForbidden, "platform admins cannot join a workspace")
	}
	if !strings.HasPrefix(req.Token, inviteTokenPrefix) {
		return Accepted{}, errInviteUnknown
	}
	if !signedIn {
		if strings.TrimSpace(req.Name) == "" {
			return Accepted{}, fault.Invalid("body.name", "name is required to create your account (or sign in first to accept with an existing one)", nil)
		}
		if req.Password == "" {
			return Accepted{}, fault.Invalid("body.password", "password is required to create your account (or sign in first to accept with an existing one)", nil)
		}
		if err := input.PlainText("body.name", req.Name); err != nil {
			return Accepted{}, err
		}
	}
	var out Accepted
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var (
			inviteID, email      string
			expires              time.Time
			accepted, wasRevoked bool
		)
		err := tx.QueryRow(ctx, inviteByTokenSQL, hashInviteToken(req.Token)).Scan(
			&inviteID, &out.WorkspaceID, &out.PartnerID, &email, &out.Role, &expires, &accepted, &wasRevoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return errInviteUnknown
		}
		if err != nil {
			return translate(err, "invite", "")
		}
		switch {
		case accepted:
			return fault.New(fault.ErrGone, "this invitation was already used")
		case wasRevoked:
			return fault.New(fault.ErrGone, "this invitation was revoked")
		case !s.clock().Before(expires):
			return fault.New(fault.ErrGone, "this invitation has expired: ask for a new one")
		}
		if signedIn {
			if !strings.EqualFold(caller.Email, email) {
				return fault.New(fault.ErrForbidden, "this invitation is for another e-mail address")
			}
			out.UserID = caller.ID
		} else {
			var existing string
			err := tx.QueryRow(ctx, userByEmailSQL, email).Scan(&existing)
			if err == nil {
				return fault.New(fault.ErrConflict, "an account with this e-mail address exists: sign in and accept with your session")
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return translate(err, "user", "")
			}
			// Hashed under the invitation's row lock: it only holds back a second
			// acceptance of the same token, which must wait anyway.
			hash, err := s.accounts.HashPassword(ctx, req.Password, email)
			if err != nil {
				return err
			}
			out.UserID = ident.New("usr")
			if _, err := tx.Exec(ctx, insertUserSQL, out.UserID, email, strings.TrimSpace(req.Name), hash); err != nil {
				return translate(err, "user", "an account with this e-mail address exists: sign in and accept with your session")
			}
		}
		if _, err := tx.Exec(ctx, insertMemberSQL, out.WorkspaceID, out.UserID, out.Role); err != nil {
			return translate(err, "membership", "you are already a member of this workspace")
		}
		if _, err := tx.Exec(ctx, markAcceptedSQL, inviteID, s.clock(), out.UserID); err != nil {
			return translate(err, "invite", "")
		}
		actor := auth.Principal{Kind: auth.KindUser, ID: out.UserID, PartnerID: out.PartnerID}
		e := audit.FromPrincipal(actor, "invite.accepted", inviteID)
		e.Details = map[string]any{"workspace_id": out.WorkspaceID, "role": out.Role, "new_user": !signedIn}
		if err := audit.Record(ctx, tx, e); err != nil {
			return err
		}
		out.Session, err = s.accounts.CreateSession(ctx, tx, auth.KindUser, out.UserID, out.WorkspaceID)
		return err
	})
	if err != nil {
		return Accepted{}, err
	}
	return out, nil
}
