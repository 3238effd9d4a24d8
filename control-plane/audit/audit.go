// Package audit owns the control plane's audit trail of security-relevant actions (keys,
// members, invitations, policies, suspensions): who did what to which target, written in
// the same transaction as the action, so the trail and the change never disagree.
package audit

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/pgdb"
)

// Entry is one audited action.
type Entry struct {
	// ActorKind is "user", "admin" or "system".
	ActorKind string
	// ActorID is the user's or admin's id, or the system component's name.
	ActorID string
	// PartnerID is the partner the action concerns; empty for platform-wide actions.
	PartnerID string
	// Action names what happened, as noun.verb: "key.created", "member.removed", ...
	Action string
	// Target is the id of the thing acted on.
	Target string
	// Details are extra facts (never secrets).
	Details map[string]any
}

// FromPrincipal starts an entry for an action by the request's caller.
func FromPrincipal(p auth.Principal, action, target string) Entry {
	return Entry{ActorKind: string(p.Kind), ActorID: p.ID, PartnerID: p.PartnerID, Action: action, Target: target}
}

const insertSQL = `INSERT INTO audit_log (actor_kind, actor_id, partner_id, action, target, details)
VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6)`

// Record writes e through db (use the action's own transaction).
func Record(ctx context.Context, db pgdb.DB, e Entry) error {
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit: details of %s: %w", e.Action, err)
	}
	if _, err := db.Exec(ctx, insertSQL, e.ActorKind, e.ActorID, e.PartnerID, e.Action, e.Target, raw); err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return nil
}
