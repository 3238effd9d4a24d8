// Package rbac owns who may do what in the control plane: the actions every protected
// operation names, and the Checker that decides them with the OPA policy
// (policies/rego, package steller.controlplane) on the same engine as the edge.
package rbac

import (
	"context"

	"github.com/steller/platform/control-plane/auth"
)

// Actions of partner users (decided by role: owner, developer, finance).
const (
	// WorkspaceRead reads the workspace, its onboarding and balance.
	WorkspaceRead = "workspace.read"
	// MembersRead lists members and invitations.
	MembersRead = "members.read"
	// MembersManage invites, changes roles and removes members.
	MembersManage = "members.manage"
	// KeysRead lists API keys.
	KeysRead = "keys.read"
	// KeysManage creates, updates, rolls and revokes API keys.
	KeysManage = "keys.manage"
	// LogsRead reads request logs (Finance may not).
	LogsRead = "logs.read"
	// UsageRead reads usage and billing figures.
	UsageRead = "usage.read"
	// WebhooksManage manages webhook endpoints and deliveries.
	WebhooksManage = "webhooks.manage"
	// LiveRequest asks for live access with the business's details (Owner only: it speaks
	// for the business).
	LiveRequest = "live.request"
	// LiveRead reads the partner's live requests and their outcome (every role).
	LiveRead = "live.read"
)

// Actions of platform admins.
const (
	// AdminPartnersRead lists and searches partners.
	AdminPartnersRead = "admin.partners.read"
	// AdminPartnersManage suspends, reinstates and approves partners for live.
	AdminPartnersManage = "admin.partners.manage"
	// AdminKeysManage creates keys for a partner.
	AdminKeysManage = "admin.keys.manage"
	// AdminPoliciesRead lists policy versions and the audit trail of policies.
	AdminPoliciesRead = "admin.policies.read"
	// AdminPoliciesManage uploads, validates, activates and rolls back policies.
	AdminPoliciesManage = "admin.policies.manage"
	// AdminAuditRead reads the audit log.
	AdminAuditRead = "admin.audit.read"
	// AdminGrowthRead reads the growth metrics (GET /v1/admin/growth).
	AdminGrowthRead = "admin.growth.read"
)

// Checker decides whether a principal may perform an action; a denial is a
// fault.ErrForbidden error, a policy failure any other error (deny either way).
type Checker interface {
	Check(ctx context.Context, p auth.Principal, action string) error
}
