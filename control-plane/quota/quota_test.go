package quota_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/control-plane/quota"
	"github.com/steller/platform/internal/testclock"
)

type env struct {
	pool  *pgxpool.Pool
	clock *testclock.Clock
}

func setup(t *testing.T) env {
	t.Helper()
	return env{pool: partnertest.DB(t), clock: testclock.New(time.Now().Truncate(time.Second))}
}

func (e env) limiter(t *testing.T, action string, r quota.Rate) *quota.Limiter {
	t.Helper()
	l, err := quota.New(quota.Config{DB: e.pool, Action: action, Rate: r, Code: "thing_rate_limited", What: "things", Clock: e.clock.Now})
	require.NoError(t, err)
	return l
}

func TestAWindowAllowsItsRateThenRefusesUntilItEnds(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	l := e.limiter(t, "thing", quota.Rate{Requests: 2, Per: time.Minute})
	require.NoError(t, l.Take(ctx, nil, "ptr_a"))
	e.clock.Advance(10 * time.Second)
	require.NoError(t, l.Take(ctx, nil, "ptr_a"))
	for range 3 {
		err := l.Take(ctx, nil, "ptr_a")
		var fe *fault.Error
		require.ErrorAs(t, err, &fe)
		assert.ErrorIs(t, err, fault.ErrRateLimited)
		assert.Equal(t, "thing_rate_limited", fe.Code)
		assert.Equal(t, 50*time.Second, fe.RetryAfter, "the window opened by the first request ends in 50 s")
		assert.Equal(t, "too many things: 2 per 1m are allowed for each partner; try again in 50s", fe.Message)
	}
	require.NoError(t, l.Take(ctx, nil, "ptr_b"), "each partner has its own window")
	other := e.limiter(t, "other", quota.Rate{Requests: 1, Per: time.Minute})
	require.NoError(t, other.Take(ctx, nil, "ptr_a"), "each action has its own window")

	e.clock.Advance(50 * time.Second)
	require.NoError(t, l.Take(ctx, nil, "ptr_a"), "refused requests did not extend the window")
	require.NoError(t, l.Take(ctx, nil, "ptr_a"))
	require.Error(t, l.Take(ctx, nil, "ptr_a"))
}

func TestRacingRequestsGetExactlyTheRate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const limit, racers = 5, 40
	l := e.limiter(t, "thing", quota.Rate{Requests: limit, Per: time.Hour})
	results := make(chan error, racers)
	for range racers {
		go func() { results <- l.Take(context.Background(), nil, "ptr_a") }()
	}
	allowed := 0
	for range racers {
		err := <-results
		if err == nil {
			allowed++
			continue
		}
		require.ErrorIs(t, err, fault.ErrRateLimited)
	}
	assert.Equal(t, limit, allowed)
}

func TestACountTakenInARolledBackTransactionIsNotSpent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	l := e.limiter(t, "thing", quota.Rate{Requests: 1, Per: time.Minute})
	failed := errors.New("the work after the count failed")
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		require.NoError(t, l.Take(ctx, tx, "ptr_a"))
		return failed
	})
	require.ErrorIs(t, err, failed)
	require.NoError(t, l.Take(ctx, nil, "ptr_a"))
}

func TestAZeroRateIsNoLimitAndNewChecksItsConfig(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := e.limiter(t, "thing", quota.Rate{})
	for range 5 {
		require.NoError(t, l.Take(context.Background(), nil, "ptr_a"))
	}
	_, err := quota.New(quota.Config{Rate: quota.Rate{Requests: 1}})
	require.Error(t, err)
	for _, want := range []string{"DB is required", "Action, Code and What are required", "Per must be positive"} {
		assert.ErrorContains(t, err, want)
	}
}
