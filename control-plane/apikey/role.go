package apikey

import (
	"slices"

	"github.com/danielgtaylor/huma/v2"
)

// Roles is the one list of roles a key may carry: the roles the edge policy requires by
// route (policies/rego/steller/edge/data.json), and "*" for every route.
var Roles = []string{"catalog:read", "orders:read", "orders:write", "balance:read", "finance:read", "*"}

// SandboxRoles are the roles of the test key issued at signup: everything the sandbox
// routes need (finance:read only matters for live settlements).
var SandboxRoles = []string{"balance:read", "catalog:read", "orders:read", "orders:write"}

// KnownRole reports whether r is one of Roles.
func KnownRole(r string) bool { return slices.Contains(Roles, r) }

// Role is a key role in request bodies; its schema enumerates Roles, so Huma rejects an
// unknown role with the field path (body.roles[2]) before any handler runs.
type Role string

// Schema implements huma.SchemaProvider.
func (Role) Schema(huma.Registry) *huma.Schema {
	enum := make([]any, len(Roles))
	for i, r := range Roles {
		enum[i] = r
	}
	return &huma.Schema{Type: huma.TypeString, Enum: enum, Description: "A key role: the edge allows a route when the key holds its role (or *)."}
}

func roleStrings(in []Role) []string {
	out := make([]string, len(in))
	for i, r := range in {
		out[i] = string(r)
	}
	return out
}
