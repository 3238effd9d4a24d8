package partnertest_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/control-plane/rbac"
	"github.com/steller/platform/policies"
)

// The fake checker the key, partner, webhook, console and explorer tests use must agree
// with the real policy on every action those packages check, or their RBAC matrices would
// prove nothing.
func TestFakeCheckerAgreesWithThePolicy(t *testing.T) {
	t.Parallel()
	engine, err := policies.New(policies.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	real, err := rbac.New(engine)
	require.NoError(t, err)
	callers := []auth.Principal{
		{Kind: auth.KindUser, Role: auth.RoleOwner}, {Kind: auth.KindUser, Role: auth.RoleDeveloper},
		{Kind: auth.KindUser, Role: auth.RoleFinance}, partnertest.Admin(),
	}
	actions := []string{rbac.KeysRead, rbac.KeysManage, rbac.AdminKeysManage, rbac.AdminPartnersRead,
		rbac.AdminPartnersManage, rbac.AdminAuditRead, rbac.MembersManage, rbac.WorkspaceRead,
		rbac.LogsRead, rbac.UsageRead, rbac.WebhooksManage}
	for _, p := range callers {
		for _, action := range actions {
			err := real.Check(context.Background(), p, action)
			require.True(t, err == nil || errors.Is(err, fault.ErrForbidden), "policy error: %v", err)
			assert.Equal(t, err == nil, partnertest.Allowed(p, action), "%s/%s: policy says %v", p.Kind, p.Role+" "+action, err)
			assert.Equal(t, err == nil, partnertest.Checker{}.Check(context.Background(), p, action) == nil)
		}
	}
}
