package account_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/api/apitest"
	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/milestone/milestonetest"
)

// signed_up is written through milestone.Record, with its job, in the signup's
// transaction; the sandbox key signup issues is not the partner's first key.
func TestSignupRecordsSignedUpInItsTransaction(t *testing.T) {
	t.Parallel()
	var jobs *milestonetest.Jobs
	env := apitest.New(t, func(c *api.Config) {
		jobs = milestonetest.NewJobs(t, c.Pool)
		c.Jobs = jobs
	})
	p := env.Signup("Milestone Co")
	rows, queued := milestonetest.Stored(t, env.Pool, p.PartnerID)
	require.Len(t, rows, 1, "signed_up only: the signup's sandbox key is not first_key")
	assert.Equal(t, milestone.SignedUp, rows[0].Milestone)
	assert.Equal(t, p.PartnerID, rows[0].EventID)
	assert.Equal(t, milestone.FromControlPlane, rows[0].Source)
	assert.True(t, env.Clock.Now().Equal(rows[0].At), "reached at the signup's time %v, stored %v", env.Clock.Now(), rows[0].At)
	require.Len(t, queued, 1)
	assert.Equal(t, milestone.SignedUp, queued[0].Milestone)

	// No job, no signup.
	before := counts(env)
	jobs.Fail.Store(true)
	res := env.Do(http.MethodPost, "/v1/public/signup", "", map[string]any{
		"company": "Refused", "name": "Ray", "email": "ray@refused.example", "password": apitest.Password,
	})
	assert.Equal(t, http.StatusInternalServerError, res.Status, "%s", res.Body)
	assert.Equal(t, before, counts(env), "the signup rolled back with its milestone")
}
