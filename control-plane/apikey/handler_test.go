package apikey_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/partner/partnertest"
)

func TestKeyLifecycleThroughTheAPI(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	tn := partnertest.Seed(t, e.pool, "Acme", false)
	as := partnertest.Header(tn.Developer)

	body := validBody()
	body["allowed_cidrs"] = []string{"203.0.113.7", "2001:db8::/32", "10.1.2.3/8"}
	resp := e.api.Post("/v1/keys", as, body)
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	created := decode[createdKey](t, resp)
	parsed, err := keyformat.Parse(created.Secret)
	require.NoError(t, err, "the secret is a well-formed key")
	assert.Equal(t, keyformat.Test, parsed.Environment)
	assert.Equal(t, parsed.Display, created.DisplayPrefix)
	assert.Equal(t, []string{"catalog:read", "orders:write"}, created.Roles, "roles are sorted")
	assert.Equal(t, []string{"203.0.113.7/32", "2001:db8::/32", "10.0.0.0/8"}, created.AllowedCIDRs, "entries are canonical")
	assert.Equal(t, "active", created.Status)

	// Only the hash and the display prefix are stored; nothing in the row is the secret.
	var stored []byte
	var display string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT hash, display FROM api_keys WHERE id = $1`, created.ID).Scan(&stored, &display))
	assert.Equal(t, parsed.Hash[:], stored)
	assert.Equal(t, parsed.Display, display)
	var secretAnywhere int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys k, audit_log a
		WHERE k.display = $1 OR a.details::text LIKE '%' || $1 || '%'`, created.Secret).Scan(&secretAnywhere))
	assert.Zero(t, secretAnywhere, "the secret is stored nowhere")

	// The edge feed has the partner, then the key, with the allowlist and roles.
	changes := feed(t, e)
	require.Len(t, changes, 2)
	assert.Equal(t, edgewire.PartnerUpsert, changes[0].Type)
	require.Equal(t, edgewire.KeyUpsert, changes[1].Type)
	assert.Equal(t, parsed.Hash, changes[1].Key.Hash)
	assert.Equal(t, created.AllowedCIDRs, changes[1].Key.AllowedCIDRs)

	// The secret is never shown again.
	resp = e.api.Get("/v1/keys/"+created.ID, as)
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	assert.NotContains(t, resp.Body.String(), created.Secret)
	assert.NotContains(t, resp.Body.String(), `"secret"`)

	resp = e.api.Patch("/v1/keys/"+created.ID, as, map[string]any{"name": "Checkout v2", "allowed_cidrs": []string{}})
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	updated := decode[createdKey](t, resp)
	assert.Equal(t, "Checkout v2", updated.Name)
	assert.Empty(t, updated.AllowedCIDRs)
	assert.Equal(t, created.Roles, updated.Roles, "roles not in the patch are kept")

	resp = e.api.Post("/v1/keys/"+created.ID+"/roll", as, map[string]any{"grace_period": "1h"})
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	rolled := decode[struct {
		Key      createdKey `json:"key"`
		Previous createdKey `json:"previous"`
	}](t, resp)
	assert.NotEqual(t, created.Secret, rolled.Key.Secret)
	assert.Equal(t, "Checkout v2", rolled.Key.Name, "the new key has the same settings")
	assert.Equal(t, created.Roles, rolled.Key.Roles)
	assert.Equal(t, "grace", rolled.Previous.Status)
	require.NotNil(t, rolled.Previous.GraceUntil)
	assert.WithinDuration(t, time.Now().Add(time.Hour), *rolled.Previous.GraceUntil, time.Minute)
	require.NotNil(t, rolled.Previous.RolledTo)
	assert.Equal(t, rolled.Key.ID, *rolled.Previous.RolledTo)

	resp = e.api.Post("/v1/keys/"+created.ID+"/roll", as, map[string]any{})
	assert.Equal(t, http.StatusConflict, resp.Code, "a key is rolled once: %s", resp.Body.String())

	resp = e.api.Post("/v1/keys/"+rolled.Key.ID+"/revoke", as)
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	assert.Equal(t, "revoked", decode[createdKey](t, resp).Status)
	before := e.counts(t)
	resp = e.api.Post("/v1/keys/"+rolled.Key.ID+"/revoke", as)
	require.Equal(t, http.StatusOK, resp.Code, "revoking twice is harmless")
	assert.Equal(t, before, e.counts(t), "and writes nothing")
	resp = e.api.Patch("/v1/keys/"+rolled.Key.ID, as, map[string]any{"name": "again"})
	assert.Equal(t, http.StatusConflict, resp.Code, "a revoked key cannot be changed")

	last := feed(t, e)
	final := last[len(last)-1]
	require.Equal(t, edgewire.KeyUpsert, final.Type)
	assert.Equal(t, edgewire.KeyRevoked, final.Key.Status)
	assert.Equal(t, rolled.Key.ID, final.Key.KeyID)

	var actions []string
	rows, err := e.pool.Query(ctx, `SELECT action FROM audit_log ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actions = append(actions, a)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"key.created", "key.updated", "key.rolled", "key.revoked"}, actions)
}

func TestListPaginatesNewestFirst(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tn := partnertest.Seed(t, e.pool, "Pager", false)
	as := partnertest.Header(tn.Owner)
	var made []string
	for i := range 5 {
		body := validBody()
		body["name"] = fmt.Sprintf("key %d", i)
		resp := e.api.Post("/v1/keys", as, body)
		require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
		made = append(made, decode[createdKey](t, resp).ID)
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		resp := e.api.Get("/v1/keys?limit=2&cursor="+cursor, as)
		require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
		page := decode[struct {
			Keys       []createdKey `json:"keys"`
			NextCursor string       `json:"next_cursor"`
		}](t, resp)
		for _, k := range page.Keys {
			seen = append(seen, k.ID)
			assert.Empty(t, k.Secret)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	want := []string{made[4], made[3], made[2], made[1], made[0]}
	assert.Equal(t, want, seen)

	for _, bad := range []string{"nope", "e30", strings.Repeat("A", 40)} {
		resp := e.api.Get("/v1/keys?cursor="+bad, as)
		assert.Equal(t, http.StatusUnprocessableEntity, resp.Code, "cursor %q: %s", bad, resp.Body.String())
	}
}

func TestLiveKeysNeedLiveApproval(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pending := partnertest.Seed(t, e.pool, "Pending", false)
	approved := partnertest.Seed(t, e.pool, "Approved", true)
	body := validBody()
	body["environment"] = "live"

	before := e.counts(t)
	resp := e.api.Post("/v1/keys", partnertest.Header(pending.Owner), body)
	require.Equal(t, http.StatusForbidden, resp.Code, resp.Body.String())
	assert.Contains(t, decode[problem](t, resp).Detail, "approved for live")
	assert.Equal(t, before, e.counts(t), "nothing written")

	resp = e.api.Post("/v1/keys", partnertest.Header(approved.Owner), body)
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	assert.True(t, strings.HasPrefix(decode[createdKey](t, resp).Secret, "sk_live_"))
}

func TestIssueSandboxKeyWritesTheKeyAndItsEdgeChangesInTheCallersTransaction(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	tn := partnertest.Seed(t, e.pool, "Signup", false)

	// A rolled-back signup leaves nothing behind.
	tx, err := e.pool.Begin(ctx)
	require.NoError(t, err)
	_, _, err = e.keys.IssueSandboxKey(ctx, tx, tn.PartnerID, tn.WorkspaceID, tn.Owner.ID)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	assert.Equal(t, counts{}, e.counts(t))

	tx, err = e.pool.Begin(ctx)
	require.NoError(t, err)
	secret, keyID, err := e.keys.IssueSandboxKey(ctx, tx, tn.PartnerID, tn.WorkspaceID, tn.Owner.ID)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))

	parsed, err := keyformat.Parse(secret)
	require.NoError(t, err)
	assert.Equal(t, keyformat.Test, parsed.Environment)
	resp := e.api.Get("/v1/keys/"+keyID, partnertest.Header(tn.Owner))
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	k := decode[createdKey](t, resp)
	assert.Equal(t, []string{"balance:read", "catalog:read", "orders:read", "orders:write"}, k.Roles)
	changes := feed(t, e)
	require.Len(t, changes, 2)
	assert.Equal(t, tn.PartnerID, changes[0].Partner.ID)
	assert.Equal(t, parsed.Hash, changes[1].Key.Hash)
}

func TestAdminCreatesKeysForAPartner(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tn := partnertest.Seed(t, e.pool, "Managed", true)
	other := partnertest.Seed(t, e.pool, "Other", false)
	admin := partnertest.Header(partnertest.Admin())

	body := validBody()
	body["environment"] = "live"
	body["allowed_cidrs"] = []string{"198.51.100.0/24", "2001:db8:1::1"}
	resp := e.api.Post("/v1/admin/partners/"+tn.PartnerID+"/keys", admin, body)
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	k := decode[createdKey](t, resp)
	assert.Equal(t, tn.WorkspaceID, k.WorkspaceID)
	assert.Equal(t, []string{"198.51.100.0/24", "2001:db8:1::1/128"}, k.AllowedCIDRs)

	var partnerID, actorKind string
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT partner_id, actor_kind FROM audit_log WHERE target = $1`, k.ID).Scan(&partnerID, &actorKind))
	assert.Equal(t, tn.PartnerID, partnerID)
	assert.Equal(t, "admin", actorKind)

	// The owner sees it in the workspace.
	resp = e.api.Get("/v1/keys/"+k.ID, partnertest.Header(tn.Owner))
	assert.Equal(t, http.StatusOK, resp.Code)

	resp = e.api.Post("/v1/admin/partners/ptr_nosuchpartner/keys", admin, validBody())
	assert.Equal(t, http.StatusNotFound, resp.Code, resp.Body.String())
	withWS := validBody()
	withWS["workspace_id"] = other.WorkspaceID
	resp = e.api.Post("/v1/admin/partners/"+tn.PartnerID+"/keys", admin, withWS)
	assert.Equal(t, http.StatusNotFound, resp.Code, "another partner's workspace: %s", resp.Body.String())
	resp = e.api.Post("/v1/admin/partners/"+other.PartnerID+"/keys", admin, body)
	assert.Equal(t, http.StatusForbidden, resp.Code, "live needs approval for admins too: %s", resp.Body.String())
}

// feed returns every change of the edge feed in order.
func feed(t *testing.T, e env) []edgewire.Change {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT version, type, payload FROM edge_changes ORDER BY version`)
	require.NoError(t, err)
	defer rows.Close()
	var out []edgewire.Change
	for rows.Next() {
		var c edgewire.Change
		var typ string
		var payload []byte
		var version int64
		require.NoError(t, rows.Scan(&version, &typ, &payload))
		c.Version, c.Type = uint64(version), edgewire.ChangeType(typ)
		switch c.Type {
		case edgewire.KeyUpsert:
			c.Key = new(edgewire.Key)
			require.NoError(t, json.Unmarshal(payload, c.Key))
		case edgewire.PartnerUpsert:
			c.Partner = new(edgewire.Partner)
			require.NoError(t, json.Unmarshal(payload, c.Partner))
		}
		out = append(out, c)
	}
	require.NoError(t, rows.Err())
	return out
}
