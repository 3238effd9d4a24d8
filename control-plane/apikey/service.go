// Package apikey owns partners' API keys in the control plane: creating test and live keys
// (the secret shown once, only its hash and display prefix stored), listing, updating
// name, roles and allowed client addresses, rolling with a grace period and revoking. Every
// change writes the key, its edge change (so connected edges see it within a second) and
// an audit entry in one transaction. Each workspace is held to its key limit (Config.KeyLimit).
package apikey

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/audit"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/edgesync"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/ident"
	"github.com/steller/platform/control-plane/milestone"
)

// Limits on key settings.
const (
	// DefaultGrace is a rolled key's grace period when the request names none.
	DefaultGrace = 24 * time.Hour
	// MaxGrace is the longest grace period a rolled key may keep working.
	MaxGrace = 7 * 24 * time.Hour
	// MaxCIDRs is the most allowlist entries a key may have.
	MaxCIDRs = 100
	// SandboxKeyName is the name of the test key issued at signup.
	SandboxKeyName = "Sandbox key"
	// DefaultKeyLimit is Config.KeyLimit when zero.
	DefaultKeyLimit = 100
)

// Config holds the Service's dependencies.
type Config struct {
	// Pool is the control plane's database (required).
	Pool *pgxpool.Pool
	// Logger receives key lifecycle events (required).
	Logger *slog.Logger
	// Clock gives the time; time.Now when nil.
	Clock func() time.Time
	// Rand is the entropy source for secrets; crypto/rand.Reader when nil.
	Rand io.Reader
	// LastUsed tells when keys were last presented at the edge (from the request logs in
	// ClickHouse: the edge never writes to this database); nil leaves last_used_at empty.
	LastUsed LastUsedLookup
	// KeyLimit is the most active keys one workspace may hold, and apart from them the most
	// rolled keys still in their grace period (so rolling cannot multiply working keys):
	// DefaultKeyLimit when zero, no limit when negative. Revoked and expired keys do not
	// count. The signup's sandbox key, a new workspace's first, is not checked.
	KeyLimit int
	// Jobs queues the milestone_reached jobs of first_key and first_live_key in the
	// creating transaction (the control plane's River client); nil records the
	// milestones without their jobs.
	Jobs milestone.Inserter
}

// LastUsedLookup answers when each of a partner's keys was last presented at the edge;
// keys never seen are absent from the answer.
type LastUsedLookup interface {
	LastUsed(ctx context.Context, partnerID string, keyIDs []string) (map[string]time.Time, error)
}

// Service manages API keys.
type Service struct {
	pool     *pgxpool.Pool
	log      *slog.Logger
	clock    func() time.Time
	rand     io.Reader
	lastUsed LastUsedLookup
	limit    int
	jobs     milestone.Inserter
}

// New validates cfg and builds a Service.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Pool == nil {
		errs = append(errs, errors.New("apikey: Config.Pool is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("apikey: Config.Logger is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.KeyLimit == 0 {
		cfg.KeyLimit = DefaultKeyLimit
	}
	return &Service{pool: cfg.Pool, log: cfg.Logger, clock: cfg.Clock, rand: cfg.Rand, lastUsed: cfg.LastUsed, limit: cfg.KeyLimit, jobs: cfg.Jobs}, nil
}

// Settings are what a key is created with.
type Settings struct {
	Name         string
	Environment  keyformat.Environment
	Roles        []string
	AllowedCIDRs []string
	ExpiresAt    *time.Time
}

// Change is a partial update: nil fields are left as they are.
type Change struct {
	Name         *string
	Roles        []string // nil: unchanged
	AllowedCIDRs []string // nil: unchanged; empty: any address
}

// Created is a new key with its secret, which is never available again.
type Created struct {
	Key    Key
	Secret string
}

// scope is the tenant a user acts in; every user read and change is confined to it.
type scope struct{ partnerID, workspaceID string }

func userScope(p auth.Principal) (scope, error) {
	if p.Kind != auth.KindUser || p.PartnerID == "" || p.WorkspaceID == "" {
		return scope{}, fault.New(fault.ErrForbidden, "API keys belong to a workspace: sign in as a workspace member")
	}
	return scope{p.PartnerID, p.WorkspaceID}, nil
}

// Create makes a key in the caller's workspace.
func (s *Service) Create(ctx context.Context, p auth.Principal, in Settings) (Created, error) {
	sc, err := userScope(p)
	if err != nil {
		return Created{}, err
	}
	return s.create(ctx, p, sc, in)
}

// CreateForPartner makes a key for a partner on an admin's behalf, in workspaceID or, when
// empty, the partner's first workspace.
func (s *Service) CreateForPartner(ctx context.Context, p auth.Principal, partnerID, workspaceID string, in Settings) (Created, error) {
	ws, err := findWorkspace(ctx, s.pool, partnerID, workspaceID)
	if err != nil {
		return Created{}, err
	}
	return s.create(ctx, p, scope{partnerID, ws}, in)
}

func (s *Service) create(ctx context.Context, p auth.Principal, sc scope, in Settings) (Created, error) {
	now := s.clock()
	clean, err := validate(in, now)
	if err != nil {
		return Created{}, err
	}
	var out Created
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		partner, err := getPartner(ctx, tx, sc.partnerID)
		if err != nil {
			return err
		}
		if clean.Environment == keyformat.Live && partner.LiveApprovedAt == nil {
			return fault.New(fault.ErrForbidden, "live keys need the partner to be approved for live by Steller; create a test key, or ask for live approval")
		}
		if err := s.checkLimit(ctx, tx, sc, now, false); err != nil {
			return err
		}
		r, secret, err := s.insert(ctx, tx, sc, clean, p.ID, now)
		if err != nil {
			return err
		}
		entry := audit.FromPrincipal(p, "key.created", r.ID)
		entry.PartnerID = sc.partnerID
		entry.Details = details(r)
		if err := audit.Record(ctx, tx, entry); err != nil {
			return err
		}
		if err := s.recordMilestones(ctx, tx, p, r, now); err != nil {
			return err
		}
		out = Created{Key: view(r, now), Secret: secret}
		return publishWithPartner(ctx, tx, r, partner.Status)
	})
	if err != nil {
		return Created{}, err
	}
	s.log.Info("api key created", "key_id", out.Key.ID, "partner_id", sc.partnerID, "environment", out.Key.Environment, "by", p.ID)
	return out, nil
}

// insert generates a secret and stores the key's hash and display prefix.
func (s *Service) insert(ctx context.Context, tx pgx.Tx, sc scope, in Settings, createdBy string, now time.Time) (row, string, error) {
	secret, parsed, err := keyformat.Generate(in.Environment, s.rand)
	if err != nil {
		return row{}, "", fmt.Errorf("apikey: generate: %w", err)
	}
	r, err := queryKey(ctx, tx, insertSQL, ident.New("key"), sc.partnerID, sc.workspaceID, string(in.Environment),
		in.Name, parsed.Display, parsed.Hash[:], in.Roles, in.AllowedCIDRs, in.ExpiresAt, createdBy, now)
	return r, secret, err
}

// recordMilestones records, in the key's transaction, first_key when the partner's own
// user created it (the signup's key, IssueSandboxKey, and keys an admin creates for the
// partner do not count) and first_live_key for any live key. The event id is the key's.
func (s *Service) recordMilestones(ctx context.Context, tx pgx.Tx, p auth.Principal, r row, now time.Time) error {
	var names []milestone.Name
	if p.Kind == auth.KindUser {
		names = append(names, milestone.FirstKey)
	}
	if r.Environment == string(keyformat.Live) {
		names = append(names, milestone.FirstLiveKey)
	}
	for _, n := range names {
		if _, err := milestone.Record(ctx, tx, s.jobs, milestone.Reached{PartnerID: r.PartnerID, Milestone: n,
			At: now, EventID: r.ID, Source: milestone.FromControlPlane}); err != nil {
			return err
		}
	}
	return nil
}

// IssueSandboxKey creates the default test key of a new partner inside the signup
// transaction tx, including its edge changes (partner and key), whose feed versions are
// drawn when tx commits. It is the new workspace's first key: the key limit is not checked.
func (s *Service) IssueSandboxKey(ctx context.Context, tx pgx.Tx, partnerID, workspaceID, createdBy string) (secret string, keyID string, err error) {
	now := s.clock()
	in := Settings{Name: SandboxKeyName, Environment: keyformat.Test, Roles: slices.Clone(SandboxRoles), AllowedCIDRs: []string{}}
	r, secret, err := s.insert(ctx, tx, scope{partnerID, workspaceID}, in, createdBy, now)
	if err != nil {
		return "", "", err
	}
	partner, err := getPartner(ctx, tx, partnerID)
	if err != nil {
		return "", "", err
	}
	entry := audit.Entry{ActorKind: "user", ActorID: createdBy, PartnerID: partnerID, Action: "key.created", Target: r.ID, Details: details(r)}
	if err := audit.Record(ctx, tx, entry); err != nil {
		return "", "", err
	}
	if err := publishWithPartner(ctx, tx, r, partner.Status); err != nil {
		return "", "", err
	}
	return secret, r.ID, nil
}

// Page is one page of keys, newest first.
type Page struct {
	Keys       []Key
	NextCursor string
}

// List returns a page of the caller's workspace's keys.
func (s *Service) List(ctx context.Context, p auth.Principal, cursor string, limit int) (Page, error) {
	sc, err := userScope(p)
	if err != nil {
		return Page{}, err
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return Page{}, err
	}
	var at *time.Time
	if after != nil {
		at = &after.At
	}
	id := ""
	if after != nil {
		id = after.ID
	}
	rows, err := queryKeys(ctx, s.pool, listSQL, sc.partnerID, sc.workspaceID, at, id, limit+1)
	if err != nil {
		return Page{}, err
	}
	now := s.clock()
	page := Page{Keys: make([]Key, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			last := rows[limit-1]
			page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
			break
		}
		page.Keys = append(page.Keys, view(r, now))
	}
	s.fillLastUsed(ctx, sc.partnerID, page.Keys)
	return page, nil
}

// Get returns one key of the caller's workspace.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Key, error) {
	sc, err := userScope(p)
	if err != nil {
		return Key{}, err
	}
	r, err := queryKey(ctx, s.pool, getSQL, id, sc.partnerID, sc.workspaceID)
	if err != nil {
		return Key{}, err
	}
	keys := []Key{view(r, s.clock())}
	s.fillLastUsed(ctx, sc.partnerID, keys)
	return keys[0], nil
}

// fillLastUsed sets last_used_at from the request logs. Analytics being down must not
// break key management, so a failed lookup leaves the field as stored and is logged.
func (s *Service) fillLastUsed(ctx context.Context, partnerID string, keys []Key) {
	if s.lastUsed == nil || len(keys) == 0 {
		return
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	used, err := s.lastUsed.LastUsed(ctx, partnerID, ids)
	if err != nil {
		s.log.Warn("apikey: last-used lookup failed; listing keys without it", "err", err)
		return
	}
	for i := range keys {
		if at, ok := used[keys[i].ID]; ok && (keys[i].LastUsedAt == nil || at.After(*keys[i].LastUsedAt)) {
			keys[i].LastUsedAt = &at
		}
	}
}

// Update changes a key's name, roles or allowed addresses.
func (s *Service) Update(ctx context.Context, p auth.Principal, id string, ch Change) (Key, error) {
	now := s.clock()
	if ch.Roles != nil {
		roles, err := validRoles(ch.Roles)
		if err != nil {
			return Key{}, err
		}
		ch.Roles = roles
	}
	if ch.AllowedCIDRs != nil {
		cidrs, err := validCIDRs(ch.AllowedCIDRs)
		if err != nil {
			return Key{}, err
		}
		ch.AllowedCIDRs = cidrs
	}
	return s.change(ctx, p, id, "key.updated", func(tx pgx.Tx, old row) (row, []row, error) {
		if old.Status == string(edgewire.KeyRevoked) {
			return row{}, nil, fault.New(fault.ErrConflict, "the key is revoked and can no longer be changed")
		}
		name, roles, cidrs := old.Name, old.Roles, old.AllowedCIDRs
		if ch.Name != nil {
			name = *ch.Name
		}
		if ch.Roles != nil {
			roles = ch.Roles
		}
		if ch.AllowedCIDRs != nil {
			cidrs = ch.AllowedCIDRs
		}
		r, err := queryKey(ctx, tx, updateSQL, id, name, roles, cidrs, now)
		return r, nil, err
	})
}

// Revoke revokes a key at once. Revoking a revoked key changes nothing.
func (s *Service) Revoke(ctx context.Context, p auth.Principal, id string) (Key, error) {
	now := s.clock()
	return s.change(ctx, p, id, "key.revoked", func(tx pgx.Tx, old row) (row, []row, error) {
		if old.Status == string(edgewire.KeyRevoked) {
			return old, nil, errUnchanged
		}
		r, err := queryKey(ctx, tx, revokeSQL, id, now)
		return r, nil, err
	})
}

// Rolled is the result of a roll: the new key with its secret, and the old key in grace.
type Rolled struct {
	New Created
	Old Key
}

// Roll replaces a key with a new secret of the same settings; the old key keeps working
// for grace (zero: it stops at once).
func (s *Service) Roll(ctx context.Context, p auth.Principal, id string, grace time.Duration) (Rolled, error) {
	if grace < 0 || grace > MaxGrace {
		return Rolled{}, fault.Invalid("body.grace_period", fmt.Sprintf("grace_period must be between 0s and %s", MaxGrace), grace.String())
	}
	sc, err := userScope(p)
	if err != nil {
		return Rolled{}, err
	}
	now := s.clock()
	var out Rolled
	old, err := s.change(ctx, p, id, "key.rolled", func(tx pgx.Tx, old row) (row, []row, error) {
		switch {
		case old.Status == string(edgewire.KeyRevoked):
			return row{}, nil, fault.New(fault.ErrConflict, "the key is revoked; create a new key instead")
		case old.RolledTo != nil:
			return row{}, nil, fault.New(fault.ErrConflict, "the key was already rolled to "+*old.RolledTo)
		case old.ExpiresAt != nil && !now.Before(*old.ExpiresAt):
			return row{}, nil, fault.New(fault.ErrConflict, "the key has expired; create a new key instead")
		}
		// The new key takes the old one's active slot; the old one, in its grace period,
		// takes a grace slot (none when it stops at once).
		if grace > 0 {
			if err := s.checkLimit(ctx, tx, sc, now, true); err != nil {
				return row{}, nil, err
			}
		}
		in := Settings{Name: old.Name, Environment: keyformat.Environment(old.Environment), Roles: old.Roles, AllowedCIDRs: old.AllowedCIDRs, ExpiresAt: old.ExpiresAt}
		nr, secret, err := s.insert(ctx, tx, sc, in, p.ID, now)
		if err != nil {
			return row{}, nil, err
		}
		out.New = Created{Key: view(nr, now), Secret: secret}
		r, err := queryKey(ctx, tx, rollOldSQL, id, now.Add(grace), nr.ID, now)
		return r, []row{nr}, err
	})
	if err != nil {
		return Rolled{}, err
	}
	out.Old = old
	return out, nil
}

// errUnchanged tells change that nothing was written (no edge change, no audit).
var errUnchanged = errors.New("unchanged")

// change locks one key of the caller's workspace, applies apply, and publishes and audits
// the result in the same transaction.
func (s *Service) change(ctx context.Context, p auth.Principal, id, action string, apply func(pgx.Tx, row) (row, []row, error)) (Key, error) {
	sc, err := userScope(p)
	if err != nil {
		return Key{}, err
	}
	var out row
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		old, err := queryKey(ctx, tx, getForUpdateSQL, id, sc.partnerID, sc.workspaceID)
		if err != nil {
			return err
		}
		r, also, err := apply(tx, old)
		if errors.Is(err, errUnchanged) {
			out = r
			return nil
		}
		if err != nil {
			return err
		}
		entry := audit.FromPrincipal(p, action, r.ID)
		entry.Details = details(r)
		if err := audit.Record(ctx, tx, entry); err != nil {
			return err
		}
		out = r
		for _, changed := range append(also, r) {
			if err := publish(ctx, tx, changed); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Key{}, err
	}
	s.log.Info("api key changed", "action", action, "key_id", id, "partner_id", sc.partnerID, "by", p.ID)
	return view(out, s.clock()), nil
}

// publishWithPartner publishes the partner before its new key: an edge treats a key of a
// partner it does not know as suspended.
func publishWithPartner(ctx context.Context, tx pgx.Tx, r row, partnerStatus string) error {
	if err := edgesync.PublishPartner(ctx, tx, edgewire.Partner{ID: r.PartnerID, Status: edgewire.PartnerStatus(partnerStatus)}); err != nil {
		return err
	}
	return publish(ctx, tx, r)
}

// publish writes r's key_upsert to the edge feed, unless the key was already deleted from
// edges (dead past the dead-key grace, edgesync.DeleteDeadKeys): a change to it, such as
// revoking an expired key, must not bring it back to every edge for good.
func publish(ctx context.Context, tx pgx.Tx, r row) error {
	if r.EdgeDeletedAt != nil {
		return nil
	}
	k, err := r.wire()
	if err != nil {
		return err
	}
	return edgesync.PublishKey(ctx, tx, k)
}

func details(r row) map[string]any {
	return map[string]any{
		"name": r.Name, "environment": r.Environment, "roles": r.Roles, "allowed_cidrs": r.AllowedCIDRs,
		"status": r.Status, "rolled_to": r.RolledTo, "expires_at": r.ExpiresAt, "grace_until": r.GraceUntil, "display": r.Display,
	}
}
