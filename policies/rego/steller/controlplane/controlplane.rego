# Control-plane RBAC: decides whether a signed-in caller may perform an action.
#
# Input: policies.ControlPlaneInput {"principal": {"kind", "role"}, "action"}.
# Output: decision, always defined, {"allow", "code", "reason"}.
# Which role may do which partner action, and which actions admins hold, are data
# (data.steller.controlplane.role_actions and .admin_actions, in data.json beside this
# file), so a bundle can change the matrix without touching this file.
#
# Users (kind "user") act inside their own workspace; the control plane checks that the
# thing acted on belongs to that workspace, this policy only decides the action. Admins
# (kind "admin") hold every admin.* action and no partner action: they reach partner
# data only through the admin paths. Anything not explicitly allowed is denied.
package steller.controlplane

default decision := {"allow": false, "code": "forbidden", "reason": "denied by default"}

decision := {"allow": true, "code": "", "reason": ""} if {
	allowed
} else := deny(sprintf("unknown caller kind %q", [kind])) if {
	not kind in {"user", "admin"}
} else := deny(sprintf("unknown action %q", [action])) if {
	not known_action
} else := deny(sprintf("role %q may not %s", [role, action])) if {
	kind == "user"
} else := deny(sprintf("platform admins may not %s: use the admin paths", [action])) if {
	kind == "admin"
}

allowed if {
	input.principal.kind == "user"
	input.action in data.steller.controlplane.role_actions[input.principal.role]
}

allowed if {
	input.principal.kind == "admin"
	input.action in data.steller.controlplane.admin_actions
}

known_action if action in data.steller.controlplane.admin_actions

known_action if {
	some actions in data.steller.controlplane.role_actions
	action in actions
}

# The input fields below read as "" when absent, so reasons can always be built.
default kind := ""

kind := input.principal.kind

default role := ""

role := input.principal.role

default action := ""

action := input.action

deny(reason) := {"allow": false, "code": "forbidden", "reason": reason}
