# Tests of the control-plane RBAC policy: the full matrix of caller kinds and roles
# against every action, plus the fail-closed edges. `go test ./policies/...` runs them.
package steller.controlplane_test

import data.steller.controlplane

partner_actions := [
	"workspace.read", "members.read", "members.manage", "keys.read", "keys.manage",
	"logs.read", "usage.read", "webhooks.manage", "live.request", "live.read",
]

admin_actions := [
	"admin.partners.read", "admin.partners.manage", "admin.keys.manage",
	"admin.policies.read", "admin.policies.manage", "admin.audit.read", "admin.growth.read",
]

# The expected matrix, written out rather than derived from data.json, so a change to the
# data is caught here.
expected_user := {
	"owner": {
		"workspace.read", "members.read", "members.manage", "keys.read", "keys.manage",
		"logs.read", "usage.read", "webhooks.manage", "live.request", "live.read",
	},
	"developer": {
		"workspace.read", "members.read", "keys.read", "keys.manage", "logs.read",
		"usage.read", "webhooks.manage", "live.read",
	},
	"finance": {"workspace.read", "members.read", "keys.read", "usage.read", "live.read"},
}

user(r, a) := {"principal": {"kind": "user", "role": r}, "action": a}

admin(a) := {"principal": {"kind": "admin", "role": ""}, "action": a}

# allowed_of is the decision's allow flag, always defined (true or false).
allowed_of(inp) := allow if {
	allow := controlplane.decision.allow with input as inp
}

allows(inp) if allowed_of(inp)

test_user_matrix if {
	every r, granted in expected_user {
		every a in array.concat(partner_actions, admin_actions) {
			allowed_of(user(r, a)) == (a in granted)
		}
	}
}

test_admin_holds_every_admin_action if {
	every a in admin_actions {
		allows(admin(a))
	}
}

test_admin_holds_no_partner_action if {
	every a in partner_actions {
		not allows(admin(a))
		controlplane.decision.reason == sprintf("platform admins may not %s: use the admin paths", [a]) with input as admin(a)
	}
}

test_finance_never_reads_logs_or_manages_keys if {
	not allows(user("finance", "logs.read"))
	not allows(user("finance", "keys.manage"))
	controlplane.decision == {"allow": false, "code": "forbidden", "reason": `role "finance" may not logs.read`} with input as user("finance", "logs.read")
}

test_developer_cannot_manage_members if {
	not allows(user("developer", "members.manage"))
	allows(user("developer", "members.read"))
}

test_unknown_role_denied if {
	every a in partner_actions {
		not allows(user("superuser", a))
		not allows(user("", a))
	}
}

test_unknown_action_denied if {
	controlplane.decision == {"allow": false, "code": "forbidden", "reason": `unknown action "keys.delete_all"`} with input as user("owner", "keys.delete_all")
	not allows(admin("admin.everything"))
}

test_unknown_kind_denied if {
	controlplane.decision == {"allow": false, "code": "forbidden", "reason": `unknown caller kind "robot"`} with input as {"principal": {"kind": "robot", "role": "owner"}, "action": "keys.read"}
}

test_empty_input_denied if {
	not allows({})
	controlplane.decision.code == "forbidden" with input as {}
}

test_allowed_decision_shape if {
	controlplane.decision == {"allow": true, "code": "", "reason": ""} with input as user("owner", "members.manage")
}
