# Tests of the edge policy; `go test ./policies/...` runs them through OPA's tester, and
# the engine runs a bundle's tests again before it activates the bundle.
package steller.edge_test

import data.steller.edge

base := {
	"method": "GET",
	"path": "/v1/catalog",
	"route": "catalog.list",
	"environment": "live",
	"roles": ["catalog:read"],
	"partner_id": "prt_1",
	"partner_status": "active",
}

allowed := {"allow": true, "code": "", "reason": ""}

# Every default route is allowed for a key holding its role in an environment it lists.
test_every_route_allowed_with_its_role if {
	cases := [
		["GET", "/v1/catalog", "catalog.list", "catalog:read", "test"],
		["GET", "/v1/catalog", "catalog.list", "catalog:read", "live"],
		["POST", "/v1/orders", "orders.create", "orders:write", "test"],
		["POST", "/v1/orders", "orders.create", "orders:write", "live"],
		["GET", "/v1/orders/ord_1", "orders.get", "orders:read", "test"],
		["GET", "/v1/orders/ord_1", "orders.get", "orders:read", "live"],
		["GET", "/v1/balance", "balance.get", "balance:read", "test"],
		["GET", "/v1/balance", "balance.get", "balance:read", "live"],
		["GET", "/v1/settlements", "settlements.list", "finance:read", "live"],
		["POST", "/v1/sandbox/fail-next-order", "sandbox.simulate", "orders:write", "test"],
	]
	every c in cases {
		inp := object.union(base, {"method": c[0], "path": c[1], "route": c[2], "roles": [c[3]], "environment": c[4]})
		edge.decision == allowed with input as inp
	}
}

test_star_role_grants_every_route if {
	every name, r in data.steller.edge.routes {
		inp := object.union(base, {"method": r.method, "route": name, "roles": ["*"], "environment": r.environments[0]})
		edge.decision == allowed with input as inp
	}
}

test_one_of_several_roles_is_enough if {
	edge.decision == allowed with input as object.union(base, {"roles": ["balance:read", "catalog:read", "orders:write"]})
}

test_suspended_partner_denied if {
	edge.decision == {"allow": false, "code": "partner_suspended", "reason": "partner is suspended"} with input as object.union(base, {"partner_status": "suspended"})
}

# Suspension wins over every other rule, even for a key that would be allowed anything.
test_suspended_takes_precedence if {
	inp := object.union(base, {"partner_status": "suspended", "route": "unknown", "roles": ["*"], "environment": "test"})
	d := edge.decision with input as inp
	d.code == "partner_suspended"
	not d.allow
}

test_inactive_partner_denied if {
	d := edge.decision with input as object.union(base, {"partner_status": "pending"})
	d == {"allow": false, "code": "forbidden_by_policy", "reason": "partner status \"pending\" is not active"}
}

test_unknown_route_denied if {
	d := edge.decision with input as object.union(base, {"route": "unknown", "roles": ["*"]})
	d == {"allow": false, "code": "forbidden_by_policy", "reason": "no such route"}
}

test_unlisted_route_denied if {
	d := edge.decision with input as object.union(base, {"route": "admin.partners", "roles": ["*"]})
	d == {"allow": false, "code": "forbidden_by_policy", "reason": "no such route"}
}

test_wrong_method_denied if {
	d := edge.decision with input as object.union(base, {"method": "DELETE"})
	d == {"allow": false, "code": "forbidden_by_policy", "reason": "route catalog.list does not accept DELETE"}
}

test_missing_role_denied_naming_the_role if {
	inp := object.union(base, {"method": "POST", "path": "/v1/orders", "route": "orders.create", "roles": ["orders:read"]})
	d := edge.decision with input as inp
	d == {"allow": false, "code": "forbidden_by_policy", "reason": "key lacks role orders:write required by route orders.create"}
}

test_no_roles_denied if {
	d := edge.decision with input as object.union(base, {"roles": []})
	d.code == "forbidden_by_policy"
	contains(d.reason, "catalog:read")
	not d.allow
}

test_test_key_on_live_only_route_denied if {
	inp := object.union(base, {"path": "/v1/settlements", "route": "settlements.list", "environment": "test", "roles": ["*"]})
	d := edge.decision with input as inp
	d == {"allow": false, "code": "forbidden_by_policy", "reason": "test keys cannot call live-only route settlements.list"}
}

test_live_key_on_test_only_route_denied if {
	inp := object.union(base, {"method": "POST", "path": "/v1/sandbox/x", "route": "sandbox.simulate", "environment": "live", "roles": ["orders:write"]})
	d := edge.decision with input as inp
	d == {"allow": false, "code": "forbidden_by_policy", "reason": "live keys cannot call test-only route sandbox.simulate"}
}

test_unknown_environment_denied if {
	d := edge.decision with input as object.union(base, {"environment": "staging", "roles": ["*"]})
	d == {"allow": false, "code": "forbidden_by_policy", "reason": "staging keys cannot call route catalog.list (environments: test, live)"}
}

# The decision is defined (and a denial) even for an empty or malformed input.
test_empty_input_denied if {
	d := edge.decision with input as {}
	d.allow == false
	d.code == "forbidden_by_policy"
}

test_malformed_roles_denied if {
	d := edge.decision with input as object.union(base, {"roles": "catalog:read"})
	d.allow == false
	d.code == "forbidden_by_policy"
}

# The route table is data: a bundle can change a route's role without changing the policy.
test_route_table_is_data if {
	table := {"catalog.list": {"method": "GET", "role": "catalog:admin", "environments": ["live"]}}
	d := edge.decision with input as base with data.steller.edge.routes as table
	d.reason == "key lacks role catalog:admin required by route catalog.list"
	edge.decision == allowed with input as object.union(base, {"roles": ["catalog:admin"]}) with data.steller.edge.routes as table
}
