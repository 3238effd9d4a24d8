package apikey_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/internal/testclock"
	"github.com/steller/platform/internal/testenv"
)

func keyLimit(n int) func(*apikey.Config) { return func(c *apikey.Config) { c.KeyLimit = n } }

func testKey(name string) apikey.Settings {
	return apikey.Settings{Name: name, Environment: keyformat.Test, Roles: []string{"catalog:read"}, AllowedCIDRs: []string{}}
}

// requireLimitReached checks err is the key limit's refusal.
func requireLimitReached(t *testing.T, err error) {
	t.Helper()
	var fe *fault.Error
	require.ErrorAs(t, err, &fe)
	assert.ErrorIs(t, err, fault.ErrConflict)
	assert.Equal(t, fault.CodeKeyLimitReached, fe.Code)
}

// TestTheKeyLimitCountsAWorkspacesActiveKeys: past the limit a creation is a 409
// key_limit_reached problem; revoked and expired keys free their slot; another workspace
// has its own; an admin creating a key for the partner is held to the same limit.
func TestTheKeyLimitCountsAWorkspacesActiveKeys(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Now().Truncate(time.Second))
	e := setup(t, keyLimit(2), func(c *apikey.Config) { c.Clock = clock.Now })
	ctx := context.Background()
	tn := partnertest.Seed(t, e.pool, "Capped", false)
	other := partnertest.Seed(t, e.pool, "Other", false)
	as := partnertest.Header(tn.Developer)

	first := decode[createdKey](t, e.api.Post("/v1/keys", as, validBody()))
	soon := validBody()
	soon["expires_at"] = clock.Now().Add(time.Minute)
	require.Equal(t, http.StatusCreated, e.api.Post("/v1/keys", as, soon).Code)
	before := e.counts(t)

	resp := e.api.Post("/v1/keys", as, validBody())
	require.Equal(t, http.StatusConflict, resp.Code, resp.Body.String())
	assert.Equal(t, "application/problem+json", resp.Header().Get("Content-Type"))
	p := decode[problem](t, resp)
	assert.Equal(t, fault.CodeKeyLimitReached, p.Code)
	assert.Equal(t, "https://steller.dev/docs/errors#key_limit_reached", p.Type)
	assert.Contains(t, p.Detail, "2 active API keys")
	assert.Equal(t, before, e.counts(t), "a refused creation writes no key, edge change or audit entry")

	_, err := e.keys.CreateForPartner(ctx, partnertest.Admin(), tn.PartnerID, "", testKey("by admin"))
	requireLimitReached(t, err)
	_, err = e.keys.Create(ctx, other.Owner, testKey("another workspace"))
	require.NoError(t, err, "the limit is per workspace")

	require.Equal(t, http.StatusOK, e.api.Post("/v1/keys/"+first.ID+"/revoke", as, map[string]any{}).Code)
	require.Equal(t, http.StatusCreated, e.api.Post("/v1/keys", as, validBody()).Code, "a revoked key frees its slot")
	requireLimitReached(t, func() error { _, err := e.keys.Create(ctx, tn.Owner, testKey("full")); return err }())

	clock.Advance(time.Minute)
	_, err = e.keys.Create(ctx, tn.Owner, testKey("after expiry"))
	require.NoError(t, err, "an expired key frees its slot")
}

// TestTwoCreationsCannotBothTakeTheLastSlot lines eight creations up behind a lock on the
// workspace row, waits until all eight wait on it, and lets them go at once: with one slot
// free, exactly one gets it. A creation waits at its first touch of the workspace: with
// the limit's lock, before it counts; were the count taken without it, at its insert's
// foreign-key check, after counting, and then every racer would have counted a free slot.
func TestTwoCreationsCannotBothTakeTheLastSlot(t *testing.T) {
	t.Parallel()
	const limit, racers = 3, 8
	e := setup(t, keyLimit(limit), func(c *apikey.Config) {
		cfg := c.Pool.Config().Copy()
		cfg.MaxConns = racers + 2 // every racer holds a connection: each waits on the gate, not on the pool
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		c.Pool = pool
	})
	ctx := context.Background()
	tn := partnertest.Seed(t, e.pool, "Racy", false)
	for range limit - 1 {
		_, err := e.keys.Create(ctx, tn.Owner, testKey("existing"))
		require.NoError(t, err)
	}

	gate, err := e.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = gate.Rollback(ctx) }()
	_, err = gate.Exec(ctx, `SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE`, tn.WorkspaceID)
	require.NoError(t, err)
	results := make(chan error, racers)
	for range racers {
		go func() {
			_, err := e.keys.Create(ctx, tn.Owner, testKey("racer"))
			results <- err
		}()
	}
	testenv.AwaitLockWaiters(t, e.pool, racers, "every creation waits behind the gate")
	require.NoError(t, gate.Commit(ctx))

	created := 0
	for range racers {
		select {
		case err := <-results:
			if err == nil {
				created++
				continue
			}
			requireLimitReached(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("a creation did not finish")
		}
	}
	assert.Equal(t, 1, created, "exactly one creation takes the last slot")
	var active int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE workspace_id = $1 AND status = 'active'`, tn.WorkspaceID).Scan(&active))
	assert.Equal(t, limit, active)
}

// TestRollingCannotMultiplyKeysPastTheLimit: a roll at the limit works (the new key takes
// the old one's slot), but rolled keys in their grace period are held to the limit too,
// so rolling the new key again at once is refused unless the old one stops at once.
func TestRollingCannotMultiplyKeysPastTheLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, keyLimit(1))
	ctx := context.Background()
	tn := partnertest.Seed(t, e.pool, "Roller", false)
	a, err := e.keys.Create(ctx, tn.Owner, testKey("only"))
	require.NoError(t, err)

	b, err := e.keys.Roll(ctx, tn.Owner, a.Key.ID, time.Hour)
	require.NoError(t, err, "a roll at the limit replaces the key")
	_, err = e.keys.Roll(ctx, tn.Owner, b.New.Key.ID, time.Hour)
	requireLimitReached(t, err)
	var fe *fault.Error
	require.True(t, errors.As(err, &fe))
	assert.Contains(t, fe.Message, "grace period")
	c, err := e.keys.Roll(ctx, tn.Owner, b.New.Key.ID, 0)
	require.NoError(t, err, "a roll whose old key stops at once adds no key")
	assert.Equal(t, apikey.StatusExpired, c.Old.Status)
	_, err = e.keys.Create(ctx, tn.Owner, testKey("one too many"))
	requireLimitReached(t, err)
}

// TestANegativeKeyLimitIsNoLimit: the setting's 0 (off) arrives here as -1.
func TestANegativeKeyLimitIsNoLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, keyLimit(-1))
	tn := partnertest.Seed(t, e.pool, "Unlimited", false)
	for range apikey.DefaultKeyLimit + 1 {
		_, err := e.keys.Create(context.Background(), tn.Owner, testKey("many"))
		require.NoError(t, err)
	}
}
