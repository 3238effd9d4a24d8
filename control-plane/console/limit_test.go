package console_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/console"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/control-plane/quota"
	"github.com/steller/platform/internal/testclock"
)

// TestTestOrdersAreLimitedPerPartner: past the rate a test order is a 429
// test_order_rate_limited problem with Retry-After and mints no key; another partner has
// its own allowance, and the next window allows orders again.
func TestTestOrdersAreLimitedPerPartner(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&edge{})
	defer srv.Close()
	clock := testclock.New(time.Now().Truncate(time.Second))
	orders, err := console.OrderLimiter(partnertest.DB(t), quota.Rate{Requests: 2, Per: time.Minute}, clock.Now)
	require.NoError(t, err)
	k := &keys{}
	c, err := console.New(console.Config{Keys: k, Logger: slog.New(slog.DiscardHandler), EdgeURL: func() string { return srv.URL },
		Orders: orders})
	require.NoError(t, err)
	_, api := humatest.New(t)
	api.UseMiddleware(partnertest.Middleware)
	console.Register(api, console.Deps{Console: c, RBAC: partnertest.Checker{}})

	as := partnertest.Header(tenant.Owner)
	for range 2 {
		require.Equal(t, http.StatusOK, api.Post("/v1/console/test-order", as, map[string]any{}).Code)
	}
	clock.Advance(45 * time.Second)
	resp := api.Post("/v1/console/test-order", as, map[string]any{})
	require.Equal(t, http.StatusTooManyRequests, resp.Code, resp.Body.String())
	assert.Equal(t, "15", resp.Header().Get("Retry-After"))
	assert.Contains(t, resp.Body.String(), `"code":"test_order_rate_limited"`)
	assert.Contains(t, resp.Body.String(), `"type":"https://steller.dev/docs/errors#test_order_rate_limited"`)
	assert.Contains(t, resp.Body.String(), "2 per 1m")
	assert.Len(t, k.created, 2, "a refused order mints no key")

	someoneElse := auth.Principal{Kind: auth.KindUser, ID: "usr_x", PartnerID: "ptr_2", WorkspaceID: "ws_2", Role: auth.RoleOwner}
	require.Equal(t, http.StatusOK, api.Post("/v1/console/test-order", partnertest.Header(someoneElse), map[string]any{}).Code,
		"the limit is per partner")
	clock.Advance(15 * time.Second)
	require.Equal(t, http.StatusOK, api.Post("/v1/console/test-order", as, map[string]any{}).Code, "a new window")
}
