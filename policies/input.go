// Package policies owns Steller's OPA policies: the Rego sources with their tests, and the
// engine that loads them (the embedded default or a bundle served by the control plane),
// prepares their queries once and evaluates them per request.
package policies

// EdgeInput is the document the edge policy (data.steller.edge.decision) decides on. It is
// built by the edge core from the authenticated key and the request, and it is also the
// decision-cache key, so it holds only what the policy reads.
type EdgeInput struct {
	// Method is the HTTP method in upper case.
	Method string `json:"method"`
	// Path is the request path without the query string.
	Path string `json:"path"`
	// Route is the edge route name the path matched (for example "orders.create"), or
	// "unknown" when no route matched.
	Route string `json:"route"`
	// Environment is the key's environment: "test" (sandbox) or "live".
	Environment string `json:"environment"`
	// Roles are the roles granted to the key, sorted.
	Roles []string `json:"roles"`
	// PartnerID identifies the partner that owns the key.
	PartnerID string `json:"partner_id"`
	// PartnerStatus is "active" or "suspended".
	PartnerStatus string `json:"partner_status"`
}

// Decision is the answer of a policy: allow, or deny with a stable code and a reason that
// is safe to show to the caller.
type Decision struct {
	// Allow is true when the request may proceed.
	Allow bool `json:"allow"`
	// Code is the stable denial code (for example "forbidden_by_policy" or
	// "partner_suspended"); empty when allowed.
	Code string `json:"code,omitempty"`
	// Reason is a human-readable explanation of a denial.
	Reason string `json:"reason,omitempty"`
}
