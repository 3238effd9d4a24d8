package partner_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/milestone/milestonetest"
	"github.com/steller/platform/control-plane/partner"
	"github.com/steller/platform/control-plane/partner/partnertest"
)

// live_approved is written, with its job, in the approval's transaction.
func TestApproveLiveRecordsLiveApprovedInItsTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := partnertest.DB(t)
	jobs := milestonetest.NewJobs(t, pool)
	svc, err := partner.New(partner.Config{Pool: pool, Logger: slog.New(slog.DiscardHandler), Jobs: jobs})
	require.NoError(t, err)
	tn := partnertest.Seed(t, pool, "Approved", false)

	p, err := svc.ApproveLive(ctx, partnertest.Admin(), tn.PartnerID)
	require.NoError(t, err)
	require.NotNil(t, p.LiveApprovedAt)
	rows, queued := milestonetest.Stored(t, pool, tn.PartnerID)
	require.Len(t, rows, 1)
	assert.Equal(t, milestone.LiveApproved, rows[0].Milestone)
	assert.True(t, p.LiveApprovedAt.Equal(rows[0].At), "reached at the approval's time")
	assert.Equal(t, tn.PartnerID, rows[0].EventID)
	assert.Equal(t, milestone.FromControlPlane, rows[0].Source)
	require.Len(t, queued, 1)

	// No job, no approval: the milestone is part of the action.
	other := partnertest.Seed(t, pool, "Refused", false)
	jobs.Fail.Store(true)
	_, err = svc.ApproveLive(ctx, partnertest.Admin(), other.PartnerID)
	require.Error(t, err)
	got, err := svc.Get(ctx, other.PartnerID)
	require.NoError(t, err)
	assert.Nil(t, got.LiveApprovedAt, "the approval rolled back with its milestone")
	rows, _ = milestonetest.Stored(t, pool, other.PartnerID)
	assert.Empty(t, rows)
}
