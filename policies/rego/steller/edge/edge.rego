# Edge authorization: decides whether an authenticated API key may call an edge route.
#
# Input: policies.EdgeInput (method, path, route, environment, roles, partner_id,
# partner_status). Output: decision, always defined, {"allow", "code", "reason"}.
# The route table is data: data.steller.edge.routes (data.json beside this file), so a
# bundle can change roles and environments without touching this file.
#
# Allowed when the partner is active and the route exists, accepts the method, is open to
# the key's environment and granted by one of its roles. Otherwise the first failing check
# names the denial, in this order: suspended partner, inactive partner, unknown route,
# method, environment, role. Anything not explicitly allowed is denied.
package steller.edge

# Fail closed: whatever no rule below decides is denied.
default decision := {"allow": false, "code": "forbidden_by_policy", "reason": "denied by default"}

# The common case first, stated positively: one body to evaluate for an allowed request.
decision := {"allow": true, "code": "", "reason": ""} if {
	input.partner_status == "active"
	input.method == route.method
	environment_allowed
	role_granted
} else := deny("partner_suspended", "partner is suspended") if {
	input.partner_status == "suspended"
} else := deny("forbidden_by_policy", sprintf("partner status %q is not active", [partner_status])) if {
	partner_status != "active"
} else := deny("forbidden_by_policy", "no such route") if {
	not route
} else := deny("forbidden_by_policy", sprintf("route %s does not accept %s", [input.route, method])) if {
	method != route.method
} else := deny("forbidden_by_policy", environment_reason) if {
	not environment_allowed
} else := deny("forbidden_by_policy", sprintf("key lacks role %s required by route %s", [route.role, input.route])) if {
	not role_granted
}

# route is the table entry of the requested route; undefined for "unknown" and for any
# name the table does not list.
route := data.steller.edge.routes[input.route] if input.route != "unknown"

environment_allowed if input.environment in route.environments

# The role "*" grants every route.
role_granted if "*" in input.roles

role_granted if route.role in input.roles

environment_reason := sprintf("%s keys cannot call %s-only route %s", [environment, route.environments[0], input.route]) if {
	count(route.environments) == 1
} else := sprintf("%s keys cannot call route %s (environments: %s)", [environment, input.route, concat(", ", route.environments)])

# The input fields below read as "" when absent, so reasons can always be built. The policy
# reads input only as input.<name>: the engine keys its decision cache on the names used.
default partner_status := ""

partner_status := input.partner_status

default method := ""

method := input.method

default environment := ""

environment := input.environment

deny(code, reason) := {"allow": false, "code": code, "reason": reason}
