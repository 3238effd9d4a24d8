// Package edgewire owns the edge sync protocol's contract: the paths, the wire types and the
// semantics by which the control plane publishes API-key and partner state to edges, as a
// snapshot plus a versioned change feed. The control plane (control-plane/edgesync) serves
// it and the edge (gateway-plugin/edgesync) consumes it; both import this package and
// neither imports the other. PROTOCOL.md beside it is the long form.
//
// # Protocol (v1)
//
// Both endpoints are served by the control plane under {base}/internal/edge/v1/ and require
// "Authorization: Bearer <edge token>"; a missing or wrong token is answered 401.
//
//	GET {base}/internal/edge/v1/snapshot
//	  200, application/json: Snapshot
//	  {"version":42,"generated_at":"2026-11-25T17:00:00Z",
//	   "keys":[{"hash":"<sha256 hex>","key_id":"key_1","partner_id":"ptr_1",
//	            "workspace_id":"ws_1","environment":"test","roles":["orders:write"],
//	            "allowed_cidrs":["203.0.113.0/24"],"status":"active",
//	            "expires_at":null,"grace_until":null}],
//	   "partners":[{"id":"ptr_1","status":"active"}]}
//
//	GET {base}/internal/edge/v1/changes?since=V&wait=25s
//	  200, application/json: Changes, the changes with version > V in version order:
//	  {"version":44,"changes":[
//	     {"version":43,"type":"key_upsert","key":{...Key...}},
//	     {"version":44,"type":"partner_upsert","partner":{"id":"ptr_1","status":"suspended"}},
//	     {"version":45,"type":"key_delete","hash":"<sha256 hex>"}]}
//	  When nothing changed, the server holds the request open up to wait (a long-poll) and
//	  then answers 200 with "changes":[] and "version":V. A change arriving during the wait is
//	  answered at once, so a revocation reaches every edge within about a second.
//	  410 Gone (application/problem+json, "code":"resync_required") when V is older than
//	  the oldest change the server still holds (or newer than its latest, after a control
//	  plane restore): the edge fetches a fresh snapshot and resumes from its version.
//
// Versions are one monotonically increasing counter over all key and partner changes. A
// snapshot at version V contains the effect of every change with version <= V. Edges apply
// changes in order and ignore any change whose version is not above their own.
//
// Key semantics: status "revoked" denies at once (key_revoked). expires_at, when set, is the
// key's hard expiry (key_expired). grace_until is set on the old key when a key is rolled:
// the old key keeps working until then and is denied with key_expired afterwards. Partners
// with status "suspended" are denied by policy (partner_suspended).
package edgewire

import (
	"time"

	"github.com/steller/platform/contract/keyformat"
)

// Paths and parameters of the protocol, relative to the control plane's base URL.
const (
	// SnapshotPath is the path of the snapshot endpoint.
	SnapshotPath = "/internal/edge/v1/snapshot"
	// ChangesPath is the path of the long-poll change feed.
	ChangesPath = "/internal/edge/v1/changes"
	// DefaultWait is how long the edge asks the server to hold a change request open.
	DefaultWait = 25 * time.Second
	// ResyncCode is the problem code of a 410 answer from the change feed.
	ResyncCode = "resync_required"
)

// KeyStatus is the lifecycle state of a key.
type KeyStatus string

// Key statuses.
const (
	// KeyActive keys authenticate (subject to expiry and grace).
	KeyActive KeyStatus = "active"
	// KeyRevoked keys are denied with key_revoked.
	KeyRevoked KeyStatus = "revoked"
)

// PartnerStatus is the account state of a partner.
type PartnerStatus string

// Partner statuses.
const (
	// PartnerActive partners may call the API.
	PartnerActive PartnerStatus = "active"
	// PartnerSuspended partners are denied by policy.
	PartnerSuspended PartnerStatus = "suspended"
)

// Key is one API key as the edge needs it; the secret itself never leaves the control plane.
type Key struct {
	// Hash is the SHA-256 of the key's secret, the lookup key.
	Hash keyformat.Hash `json:"hash"`
	// KeyID is the key's public identifier.
	KeyID string `json:"key_id"`
	// PartnerID is the partner that owns the key.
	PartnerID string `json:"partner_id"`
	// WorkspaceID is the workspace the key belongs to.
	WorkspaceID string `json:"workspace_id"`
	// Environment is "test" or "live"; it must agree with the key's prefix.
	Environment keyformat.Environment `json:"environment"`
	// Roles are the roles granted to the key (the edge sorts them).
	Roles []string `json:"roles"`
	// AllowedCIDRs restricts client addresses; empty allows any.
	AllowedCIDRs []string `json:"allowed_cidrs"`
	// Status is active or revoked.
	Status KeyStatus `json:"status"`
	// ExpiresAt is the key's hard expiry, if any.
	ExpiresAt *time.Time `json:"expires_at"`
	// GraceUntil is set on a rolled key: it works until then.
	GraceUntil *time.Time `json:"grace_until"`
}

// Partner is a partner's account state.
type Partner struct {
	// ID identifies the partner.
	ID string `json:"id"`
	// Status is active or suspended.
	Status PartnerStatus `json:"status"`
}

// Snapshot is the full key and partner state at Version.
type Snapshot struct {
	// Version is the version of the last change included.
	Version uint64 `json:"version"`
	// GeneratedAt is when the control plane produced the snapshot.
	GeneratedAt time.Time `json:"generated_at"`
	// Keys are all keys the edge must know (active, revoked, or rolled and in grace).
	Keys []Key `json:"keys"`
	// Partners are all partners that own a key.
	Partners []Partner `json:"partners"`
}

// ChangeType names what a change does.
type ChangeType string

// Change types.
const (
	// KeyUpsert adds or replaces the key with Key.Hash.
	KeyUpsert ChangeType = "key_upsert"
	// KeyDelete removes the key with Hash (it then fails as invalid_key).
	KeyDelete ChangeType = "key_delete"
	// PartnerUpsert adds or replaces a partner.
	PartnerUpsert ChangeType = "partner_upsert"
)

// Change is one versioned entry of the change feed.
type Change struct {
	// Version is this change's position in the feed.
	Version uint64 `json:"version"`
	// Type says which of the fields below is set.
	Type ChangeType `json:"type"`
	// Key is set for key_upsert.
	Key *Key `json:"key,omitempty"`
	// Hash is set for key_delete.
	Hash *keyformat.Hash `json:"hash,omitempty"`
	// Partner is set for partner_upsert.
	Partner *Partner `json:"partner,omitempty"`
}

// Changes is the answer of the change feed.
type Changes struct {
	// Version is the version the edge is at after applying Changes (the since value when
	// there are none).
	Version uint64 `json:"version"`
	// Changes are in increasing version order.
	Changes []Change `json:"changes"`
}
