package apikey_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/milestone/milestonetest"
	"github.com/steller/platform/control-plane/partner/partnertest"
)

// first_key comes from the first key a member creates, first_live_key from the first live
// key whoever creates it; both are written, with their job, in the key's transaction.
func TestKeyCreationRecordsFirstKeyAndFirstLiveKeyInItsTransaction(t *testing.T) {
	t.Parallel()
	var jobs *milestonetest.Jobs
	e := setup(t, func(c *apikey.Config) {
		jobs = milestonetest.NewJobs(t, c.Pool)
		c.Jobs = jobs
	})
	ctx := context.Background()
	tn := partnertest.Seed(t, e.pool, "Keys", true)
	test := apikey.Settings{Name: "ci", Environment: keyformat.Test, Roles: []string{"orders:write"}}
	live := apikey.Settings{Name: "prod", Environment: keyformat.Live, Roles: []string{"orders:write"}}

	// A key an admin creates for the partner is not the partner's own first key.
	byAdmin, err := e.keys.CreateForPartner(ctx, partnertest.Admin(), tn.PartnerID, "", test)
	require.NoError(t, err)
	rows, queued := milestonetest.Stored(t, e.pool, tn.PartnerID)
	assert.Empty(t, rows, "admin key %s", byAdmin.Key.ID)
	assert.Empty(t, queued)

	first, err := e.keys.Create(ctx, tn.Developer, test)
	require.NoError(t, err)
	_, err = e.keys.Create(ctx, tn.Owner, test)
	require.NoError(t, err)
	liveKey, err := e.keys.Create(ctx, tn.Owner, live)
	require.NoError(t, err)
	_, err = e.keys.Create(ctx, tn.Owner, live)
	require.NoError(t, err)

	rows, queued = milestonetest.Stored(t, e.pool, tn.PartnerID)
	require.Len(t, rows, 2)
	assert.Equal(t, milestone.FirstKey, rows[0].Milestone)
	assert.Equal(t, first.Key.ID, rows[0].EventID)
	assert.True(t, first.Key.CreatedAt.Equal(rows[0].At), "reached when the key was created")
	assert.Equal(t, milestone.FromControlPlane, rows[0].Source)
	assert.Equal(t, milestone.FirstLiveKey, rows[1].Milestone)
	assert.Equal(t, liveKey.Key.ID, rows[1].EventID)
	require.Len(t, queued, 2, "one job per milestone")

	// The milestone is part of the creation: when its job cannot be queued, no key exists.
	other := partnertest.Seed(t, e.pool, "Refused", true)
	before := e.counts(t)
	jobs.Fail.Store(true)
	_, err = e.keys.Create(ctx, other.Owner, live)
	require.Error(t, err)
	assert.Equal(t, before, e.counts(t), "the key, its edge change and its audit entry rolled back with the milestone")
	rows, _ = milestonetest.Stored(t, e.pool, other.PartnerID)
	assert.Empty(t, rows)
}
