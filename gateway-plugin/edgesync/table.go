package edgesync

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/steller/platform/contract/edgewire"

	"github.com/steller/platform/contract/allowlist"
	"github.com/steller/platform/contract/keyformat"
)

// Record is what a lookup returns: a key prepared for deciding requests. Records are
// immutable and shared between table versions.
type Record struct {
	// Key is the key as published (Roles sorted).
	Key edgewire.Key
	// Allow is the parsed AllowedCIDRs.
	Allow allowlist.List
	// PartnerStatus is the owning partner's status when the table was built; a key whose
	// partner is unknown is treated as suspended (fail closed).
	PartnerStatus edgewire.PartnerStatus
}

// Table is one immutable version of the key and partner state. Tables are never modified;
// applying changes builds a new one, so readers need no locks.
type Table struct {
	version     uint64
	generatedAt time.Time
	keys        map[keyformat.Hash]*Record
	partners    map[string]edgewire.Partner
}

// Version returns the version of the last change the table includes.
func (t *Table) Version() uint64 { return t.version }

// Len returns the number of keys.
func (t *Table) Len() int { return len(t.keys) }

// Lookup returns the record for a key hash.
func (t *Table) Lookup(h keyformat.Hash) (*Record, bool) {
	r, ok := t.keys[h]
	return r, ok
}

// NewTable builds a table from a snapshot. Keys that cannot be used (bad hash, environment
// or allowlist) are left out, so they fail closed as unknown keys; each is reported in the
// returned error (joined), and the table is still returned.
func NewTable(s edgewire.Snapshot) (*Table, error) {
	t := &Table{
		version:     s.Version,
		generatedAt: s.GeneratedAt,
		keys:        make(map[keyformat.Hash]*Record, len(s.Keys)),
		partners:    make(map[string]edgewire.Partner, len(s.Partners)),
	}
	for _, p := range s.Partners {
		t.partners[p.ID] = p
	}
	var errs []error
	for _, k := range s.Keys {
		r, err := t.record(k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.keys[k.Hash] = r
	}
	return t, errors.Join(errs...)
}

// record validates a key and prepares it against the table's partners.
func (t *Table) record(k edgewire.Key) (*Record, error) {
	if k.Hash.IsZero() {
		return nil, fmt.Errorf("edgesync: key %q: missing hash", k.KeyID)
	}
	if !k.Environment.Valid() {
		return nil, fmt.Errorf("edgesync: key %q: unknown environment %q", k.KeyID, k.Environment)
	}
	if k.Status != edgewire.KeyActive && k.Status != edgewire.KeyRevoked {
		return nil, fmt.Errorf("edgesync: key %q: unknown status %q", k.KeyID, k.Status)
	}
	allow, err := allowlist.Parse(k.AllowedCIDRs)
	if err != nil {
		return nil, fmt.Errorf("edgesync: key %q: %w", k.KeyID, err)
	}
	k.Roles = slices.Sorted(slices.Values(k.Roles))
	k.AllowedCIDRs = slices.Clone(k.AllowedCIDRs)
	status := edgewire.PartnerSuspended
	if p, ok := t.partners[k.PartnerID]; ok {
		status = p.Status
	}
	return &Record{Key: k, Allow: allow, PartnerStatus: status}, nil
}

// Apply returns a new table with changes applied in order. Changes at or below the table's
// version are skipped, so re-delivered changes are harmless. A change that cannot be applied
// is reported in the joined error and skipped; for a bad key_upsert the old record of that
// hash is removed so the key fails closed.
func (t *Table) Apply(changes []edgewire.Change) (*Table, error) {
	next := &Table{
		version:     t.version,
		generatedAt: t.generatedAt,
		keys:        maps.Clone(t.keys),
		partners:    maps.Clone(t.partners),
	}
	if next.keys == nil {
		next.keys = map[keyformat.Hash]*Record{}
	}
	if next.partners == nil {
		next.partners = map[string]edgewire.Partner{}
	}
	var errs []error
	for _, c := range changes {
		if c.Version <= next.version {
			continue
		}
		next.version = c.Version
		switch {
		case c.Type == edgewire.KeyUpsert && c.Key != nil:
			r, err := next.record(*c.Key)
			if err != nil {
				delete(next.keys, c.Key.Hash)
				errs = append(errs, fmt.Errorf("change %d: %w", c.Version, err))
				continue
			}
			next.keys[c.Key.Hash] = r
		case c.Type == edgewire.KeyDelete && c.Hash != nil:
			delete(next.keys, *c.Hash)
		case c.Type == edgewire.PartnerUpsert && c.Partner != nil:
			next.partners[c.Partner.ID] = *c.Partner
			next.refreshPartner(*c.Partner)
		default:
			errs = append(errs, fmt.Errorf("edgesync: change %d: unknown or incomplete change of type %q", c.Version, c.Type))
		}
	}
	return next, errors.Join(errs...)
}

// refreshPartner replaces the records of p's keys so that they carry p's new status. It
// scans all keys: partner changes are rare, and the scan keeps Record free of indirection.
func (t *Table) refreshPartner(p edgewire.Partner) {
	for h, r := range t.keys {
		if r.Key.PartnerID == p.ID && r.PartnerStatus != p.Status {
			updated := *r
			updated.PartnerStatus = p.Status
			t.keys[h] = &updated
		}
	}
}

// Snapshot returns the table as a snapshot (keys ordered by key id), for writing to disk.
func (t *Table) Snapshot() edgewire.Snapshot {
	s := edgewire.Snapshot{Version: t.version, GeneratedAt: t.generatedAt, Keys: make([]edgewire.Key, 0, len(t.keys)), Partners: make([]edgewire.Partner, 0, len(t.partners))}
	for _, r := range t.keys {
		s.Keys = append(s.Keys, r.Key)
	}
	for _, p := range t.partners {
		s.Partners = append(s.Partners, p)
	}
	slices.SortFunc(s.Keys, func(a, b edgewire.Key) int { return cmp.Compare(a.KeyID, b.KeyID) })
	slices.SortFunc(s.Partners, func(a, b edgewire.Partner) int { return cmp.Compare(a.ID, b.ID) })
	return s
}

// store holds the current table behind an atomic pointer: readers load it without locks,
// writers swap in a new table.
type store struct {
	current atomic.Pointer[Table]
}

// Lookup finds a key in the current table; before any table is loaded nothing is found.
func (s *store) Lookup(h keyformat.Hash) (*Record, bool) {
	t := s.current.Load()
	if t == nil {
		return nil, false
	}
	return t.Lookup(h)
}

// Table returns the current table, or nil before the first load.
func (s *store) Table() *Table { return s.current.Load() }
