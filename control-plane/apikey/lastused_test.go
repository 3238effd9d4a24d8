package apikey_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/partner/partnertest"
)

// lastUsedFake answers like the ClickHouse lookup: a time per seen key, or an error.
type lastUsedFake struct {
	at      map[string]time.Time
	err     error
	partner string
}

func (f *lastUsedFake) LastUsed(_ context.Context, partnerID string, ids []string) (map[string]time.Time, error) {
	f.partner = partnerID
	if f.err != nil {
		return nil, f.err
	}
	out := map[string]time.Time{}
	for _, id := range ids {
		if at, ok := f.at[id]; ok {
			out[id] = at
		}
	}
	return out, nil
}

func TestListAndGetShowWhenAKeyWasLastUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := partnertest.DB(t)
	fake := &lastUsedFake{at: map[string]time.Time{}}
	keys, err := apikey.New(apikey.Config{Pool: pool, Logger: slog.New(slog.DiscardHandler), LastUsed: fake})
	require.NoError(t, err)
	tn := partnertest.Seed(t, pool, "LastUsed", false)
	settings := apikey.Settings{Name: "used", Environment: keyformat.Test, Roles: []string{"catalog:read"}}
	used, err := keys.Create(ctx, tn.Owner, settings)
	require.NoError(t, err)
	settings.Name = "unused"
	unused, err := keys.Create(ctx, tn.Owner, settings)
	require.NoError(t, err)
	when := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	fake.at[used.Key.ID] = when

	page, err := keys.List(ctx, tn.Owner, "", 50)
	require.NoError(t, err)
	byID := map[string]apikey.Key{}
	for _, k := range page.Keys {
		byID[k.ID] = k
	}
	require.NotNil(t, byID[used.Key.ID].LastUsedAt)
	assert.Equal(t, when, *byID[used.Key.ID].LastUsedAt)
	assert.Nil(t, byID[unused.Key.ID].LastUsedAt)
	assert.Equal(t, tn.PartnerID, fake.partner, "the lookup must be confined to the caller's partner")

	got, err := keys.Get(ctx, tn.Owner, used.Key.ID)
	require.NoError(t, err)
	require.NotNil(t, got.LastUsedAt)
	assert.Equal(t, when, *got.LastUsedAt)

	// Analytics down: keys are still listed, without the time.
	fake.err = errors.New("clickhouse unreachable")
	page, err = keys.List(ctx, tn.Owner, "", 50)
	require.NoError(t, err)
	assert.Len(t, page.Keys, 2)
}
