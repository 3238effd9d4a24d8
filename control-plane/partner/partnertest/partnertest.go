// Package partnertest owns the test fixtures shared by the control plane's key, partner and
// edge sync tests: a migrated database per test, seeded partners with one principal per
// role, a fake RBAC checker with the role rules of the policy, and a Huma middleware that
// takes the request's principal from a test header (standing in for the session layer).
package partnertest

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/ident"
	"github.com/steller/platform/control-plane/migration"
	"github.com/steller/platform/control-plane/rbac"
	"github.com/steller/platform/internal/testenv"
)

// DB returns a pool on this test's own database with every migration applied.
func DB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool := testenv.Postgres(t)
	if _, err := migration.Up(context.Background(), pool, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("partnertest: migrate: %v", err)
	}
	return pool
}

// Tenant is a seeded partner with one workspace and a principal for each role.
type Tenant struct {
	PartnerID, WorkspaceID    string
	Owner, Developer, Finance auth.Principal
}

// As returns the tenant's principal for role ("owner", "developer" or "finance").
func (t Tenant) As(role string) auth.Principal {
	switch role {
	case auth.RoleDeveloper:
		return t.Developer
	case auth.RoleFinance:
		return t.Finance
	default:
		return t.Owner
	}
}

// Seed inserts a partner (approved for live when live) with one workspace.
func Seed(t testing.TB, pool *pgxpool.Pool, company string, live bool) Tenant {
	t.Helper()
	ctx := context.Background()
	tn := Tenant{PartnerID: ident.New("ptr"), WorkspaceID: ident.New("ws")}
	if _, err := pool.Exec(ctx, `INSERT INTO partners (id, company, live_approved_at) VALUES ($1, $2, CASE WHEN $3 THEN now() END)`, tn.PartnerID, company, live); err != nil {
		t.Fatalf("partnertest: seed partner: %v", err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO workspaces (id, partner_id, name) VALUES ($1, $2, 'Default')`, tn.WorkspaceID, tn.PartnerID); err != nil {
		t.Fatalf("partnertest: seed workspace: %v", err)
	}
	for _, role := range []string{auth.RoleOwner, auth.RoleDeveloper, auth.RoleFinance} {
		p := auth.Principal{Kind: auth.KindUser, ID: ident.New("usr"), PartnerID: tn.PartnerID, WorkspaceID: tn.WorkspaceID, Role: role}
		// Unique per partner, so several partners may share a company name.
		p.Email = role + "." + tn.PartnerID[len("ptr_"):len("ptr_")+8] + "@" + strings.ToLower(strings.ReplaceAll(company, " ", "")) + ".example"
		if _, err := pool.Exec(ctx, `INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, 'unused')`, p.ID, p.Email, role); err != nil {
			t.Fatalf("partnertest: seed user: %v", err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3)`, tn.WorkspaceID, p.ID, role); err != nil {
			t.Fatalf("partnertest: seed membership: %v", err)
		}
		switch role {
		case auth.RoleOwner:
			tn.Owner = p
		case auth.RoleDeveloper:
			tn.Developer = p
		default:
			tn.Finance = p
		}
	}
	return tn
}

// Admin returns a platform admin principal.
func Admin() auth.Principal {
	return auth.Principal{Kind: auth.KindAdmin, ID: ident.New("adm"), Email: "admin@steller.example"}
}

// Checker is a fake rbac.Checker with the policy's rules: owners may do every partner
// action, developers all but members.manage, finance only workspace.read, usage.read and
// keys.read, and admins only admin.* actions.
type Checker struct{}

var partnerActions = []string{rbac.WorkspaceRead, rbac.MembersRead, rbac.MembersManage, rbac.KeysRead,
	rbac.KeysManage, rbac.LogsRead, rbac.UsageRead, rbac.WebhooksManage}

// Check implements rbac.Checker.
func (Checker) Check(_ context.Context, p auth.Principal, action string) error {
	if Allowed(p, action) {
		return nil
	}
	return fault.New(fault.ErrForbidden, "your role may not "+action)
}

// Allowed is the fake's rule table, for tests that compute the expected answer.
func Allowed(p auth.Principal, action string) bool {
	if p.Kind == auth.KindAdmin {
		return strings.HasPrefix(action, "admin.")
	}
	partner := false
	for _, a := range partnerActions {
		partner = partner || a == action
	}
	switch {
	case !partner:
		return false
	case p.Role == auth.RoleOwner:
		return true
	case p.Role == auth.RoleDeveloper:
		return action != rbac.MembersManage
	case p.Role == auth.RoleFinance:
		return action == rbac.WorkspaceRead || action == rbac.UsageRead || action == rbac.KeysRead
	}
	return false
}

// PrincipalHeader is the test header that carries the caller (JSON of auth.Principal).
const PrincipalHeader = "X-Test-Principal"

// Header returns the PrincipalHeader line for p, as humatest's request arguments take it.
func Header(p auth.Principal) string {
	raw, _ := json.Marshal(p)
	return PrincipalHeader + ": " + string(raw)
}

// Middleware puts the principal from PrincipalHeader into the request context, as the
// session middleware does in the real service; without the header the request is anonymous.
func Middleware(ctx huma.Context, next func(huma.Context)) {
	raw := ctx.Header(PrincipalHeader)
	if raw == "" {
		next(ctx)
		return
	}
	var p auth.Principal
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		next(ctx)
		return
	}
	next(huma.WithContext(ctx, auth.WithPrincipal(ctx.Context(), p)))
}
