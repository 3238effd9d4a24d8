package account

import "github.com/steller/platform/control-plane/pgdb"

// SQL of the account store: partners, users, admins, memberships and sessions.
const (
	insertPartnerSQL   = `INSERT INTO partners (id, company, signup_referral_code) VALUES ($1, $2, NULLIF($3, ''))`
	insertWorkspaceSQL = `INSERT INTO workspaces (id, partner_id, name) VALUES ($1, $2, $3)`
	insertUserSQL      = `INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)`
	insertMemberSQL    = `INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3)`
	insertSandboxSQL   = `INSERT INTO sandbox_accounts (partner_id, balance_cents, currency) VALUES ($1, $2, 'USD')`
	insertAdminSQL     = `INSERT INTO admin_users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)`
	insertSessionSQL   = `INSERT INTO sessions (token_hash, subject_kind, subject_id, workspace_id, created_at, expires_at)
VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6)`
	revokeSessionSQL = `UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL`

	// userForLoginSQL finds a user and the workspace to sign in to: the one asked for
	// ($2, if not empty) or else the oldest membership.
	userForLoginSQL = `SELECT u.id, u.password_hash, COALESCE(m.workspace_id, '')
FROM users u
LEFT JOIN LATERAL (
	SELECT workspace_id FROM memberships
	WHERE user_id = u.id AND ($2 = '' OR workspace_id = $2)
	ORDER BY created_at, workspace_id LIMIT 1
) m ON true
WHERE u.email = $1`
	adminForLoginSQL = `SELECT id, password_hash FROM admin_users WHERE email = $1`

	// sessionPrincipalSQL loads the caller behind a live session. A user's session only
	// counts while the user is still a member of the session's workspace, and the role
	// is read on every request, so removals and role changes apply at once.
	sessionPrincipalSQL = `SELECT s.subject_kind, s.subject_id, COALESCE(s.workspace_id, '') AS workspace_id,
	COALESCE(u.email::text, a.email::text, '') AS email,
	COALESCE(w.partner_id, '') AS partner_id, COALESCE(m.role, '') AS role
FROM sessions s
LEFT JOIN users u ON s.subject_kind = 'user' AND u.id = s.subject_id
LEFT JOIN memberships m ON s.subject_kind = 'user' AND m.user_id = s.subject_id AND m.workspace_id = s.workspace_id
LEFT JOIN workspaces w ON w.id = m.workspace_id
LEFT JOIN admin_users a ON s.subject_kind = 'admin' AND a.id = s.subject_id
WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2`

	meUserSQL = `SELECT u.id, u.email::text AS email, u.name, p.id AS partner_id, p.company, p.status,
	p.live_approved_at IS NOT NULL AS live_approved, w.id AS workspace_id, w.name AS workspace_name, m.role
FROM users u
JOIN memberships m ON m.user_id = u.id AND m.workspace_id = $2
JOIN workspaces w ON w.id = m.workspace_id
JOIN partners p ON p.id = w.partner_id
WHERE u.id = $1`
	meAdminSQL = `SELECT id, email::text AS email, name FROM admin_users WHERE id = $1`
)

// translate maps driver errors to fault kinds (pgdb.Translate).
func translate(err error, conflictMessage string) error {
	return pgdb.Translate(err, pgdb.Messages{Conflict: conflictMessage})
}
