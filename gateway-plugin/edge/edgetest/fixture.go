// Package edgetest owns the edge's shared decision table: one set of keys, partners and
// request cases, with the expected outcome of each, that every host of the edge core (the
// core itself, the built-in gateway, the Kong plugin under go-pdk's harness, the Kong
// stand-in) runs, so they are held to the same behaviour.
package edgetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/gateway-plugin/edgesync"
)

// HarnessClientIP is the client address go-pdk's test harness always reports; cases use it
// as their default client address so that the harness can run them.
var HarnessClientIP = netip.MustParseAddr("10.10.10.1")

// Partner ids of the fixture.
const (
	PartnerActive    = "ptr_active"
	PartnerSuspended = "ptr_suspended"
	WorkspaceID      = "ws_main"
)

// Key names of the fixture (also their key ids, with a "key_" prefix).
const (
	KeyTestFull         = "test_full"
	KeyLiveFull         = "live_full"
	KeyCatalogOnly      = "test_catalog_only"
	KeyRevoked          = "revoked"
	KeyExpired          = "expired"
	KeyRolledInGrace    = "rolled_in_grace"
	KeyRolledAfterGrace = "rolled_after_grace"
	KeyIPv4Restricted   = "ipv4_restricted"
	KeyIPv6Restricted   = "ipv6_restricted"
	KeySuspended        = "suspended_partner"
	// KeyUnknown is well formed but in no table.
	KeyUnknown = "unknown"
)

// Fixture is the decision table's world: keys and partners as of Now.
type Fixture struct {
	// Now is the time the fixture's expiries are relative to; use it as the core's clock.
	Now time.Time
	// Snapshot holds the keys and partners (what the control plane would publish).
	Snapshot edgewire.Snapshot
	// Table is Snapshot as a ready key table (it satisfies edge.KeyLookup).
	Table   *edgesync.Table
	secrets map[string]string
}

// New builds the fixture with expiries relative to now. Secrets are derived from the key
// names, so every process that builds a fixture gets the same keys.
func New(now time.Time) *Fixture {
	f := &Fixture{Now: now, secrets: map[string]string{}}
	all := []string{"catalog:read", "orders:write", "orders:read", "balance:read"}
	withFinance := append([]string{"finance:read"}, all...)
	before, after := now.Add(-time.Minute), now.Add(time.Hour)
	keys := []struct {
		name    string
		env     keyformat.Environment
		roles   []string
		cidrs   []string
		status  edgewire.KeyStatus
		partner string
		expires *time.Time
		grace   *time.Time
	}{
		{KeyTestFull, keyformat.Test, all, nil, edgewire.KeyActive, PartnerActive, nil, nil},
		{KeyLiveFull, keyformat.Live, withFinance, []string{"10.10.10.0/24", "2001:db8:10::/48"}, edgewire.KeyActive, PartnerActive, &after, nil},
		{KeyCatalogOnly, keyformat.Test, []string{"catalog:read"}, nil, edgewire.KeyActive, PartnerActive, nil, nil},
		{KeyRevoked, keyformat.Test, all, nil, edgewire.KeyRevoked, PartnerActive, nil, nil},
		{KeyExpired, keyformat.Test, all, nil, edgewire.KeyActive, PartnerActive, &before, nil},
		{KeyRolledInGrace, keyformat.Live, withFinance, nil, edgewire.KeyActive, PartnerActive, nil, &after},
		{KeyRolledAfterGrace, keyformat.Live, withFinance, nil, edgewire.KeyActive, PartnerActive, nil, &before},
		{KeyIPv4Restricted, keyformat.Test, all, []string{"192.0.2.0/24"}, edgewire.KeyActive, PartnerActive, nil, nil},
		{KeyIPv6Restricted, keyformat.Test, all, []string{"2001:db8:abcd::/48"}, edgewire.KeyActive, PartnerActive, nil, nil},
		{KeySuspended, keyformat.Test, all, nil, edgewire.KeyActive, PartnerSuspended, nil, nil},
	}
	f.Snapshot = edgewire.Snapshot{
		Version: 1, GeneratedAt: now,
		Partners: []edgewire.Partner{
			{ID: PartnerActive, Status: edgewire.PartnerActive},
			{ID: PartnerSuspended, Status: edgewire.PartnerSuspended},
		},
	}
	for _, k := range keys {
		_, parsed := f.mint(k.name, k.env)
		f.Snapshot.Keys = append(f.Snapshot.Keys, edgewire.Key{
			Hash: parsed.Hash, KeyID: KeyID(k.name), PartnerID: k.partner, WorkspaceID: WorkspaceID,
			Environment: k.env, Roles: k.roles, AllowedCIDRs: k.cidrs, Status: k.status,
			ExpiresAt: k.expires, GraceUntil: k.grace,
		})
	}
	f.mint(KeyUnknown, keyformat.Live)
	table, err := edgesync.NewTable(f.Snapshot)
	if err != nil {
		panic(fmt.Sprintf("edgetest: fixture table: %v", err))
	}
	f.Table = table
	return f
}

func (f *Fixture) mint(name string, env keyformat.Environment) (string, keyformat.Key) {
	seed := sha256.Sum256([]byte("edgetest/" + name))
	secret, key, err := keyformat.Generate(env, bytes.NewReader(seed[:]))
	if err != nil {
		panic(fmt.Sprintf("edgetest: mint %s: %v", name, err))
	}
	f.secrets[name] = secret
	return secret, key
}

// KeyID is the key id of a fixture key name.
func KeyID(name string) string { return "key_" + name }

// Secret returns the secret of a fixture key (panics on an unknown name).
func (f *Fixture) Secret(name string) string {
	s, ok := f.secrets[name]
	if !ok {
		panic("edgetest: no key named " + name)
	}
	return s
}

// Clock returns a clock fixed at f.Now.
func (f *Fixture) Clock() func() time.Time { return func() time.Time { return f.Now } }

// WriteSnapshot writes the fixture's snapshot as JSON into dir and returns its path; it is
// also a valid static keys file (edgesync.File).
func (f *Fixture) WriteSnapshot(dir string) (string, error) {
	raw, err := json.Marshal(f.Snapshot)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "edge-keys.json")
	return path, os.WriteFile(path, raw, 0o600)
}

// FixedNow is a fixed instant for tests that want a deterministic clock.
func FixedNow() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }

// SigningSecret is the fixture's edge signing secret: every host under test signs with it,
// and the tests' upstreams verify with it.
const SigningSecret = "esig_edgetest-fixture-signing-secret-0000000"

// Signer returns a signer with SigningSecret.
func Signer() *edgesign.Signer {
	s, err := edgesign.NewSigner([]string{SigningSecret})
	if err != nil {
		panic(err) // the constant is long enough
	}
	return s
}

// Verifier returns a verifier with SigningSecret and clock (time.Now when nil).
func Verifier(clock func() time.Time) *edgesign.Verifier {
	v, err := edgesign.NewVerifier(edgesign.VerifierConfig{Secrets: []string{SigningSecret}, Clock: clock})
	if err != nil {
		panic(err)
	}
	return v
}
