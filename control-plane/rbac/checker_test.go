package rbac_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/rbac"
	"github.com/steller/platform/policies"
)

func TestCheckerDecidesWithThePolicy(t *testing.T) {
	t.Parallel()
	engine, err := policies.New(policies.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	c, err := rbac.New(engine)
	require.NoError(t, err)
	user := func(role string) auth.Principal { return auth.Principal{Kind: auth.KindUser, ID: "usr_1", Role: role} }
	admin := auth.Principal{Kind: auth.KindAdmin, ID: "adm_1"}
	cases := []struct {
		name   string
		p      auth.Principal
		action string
		allow  bool
	}{
		{"owner manages members", user(auth.RoleOwner), rbac.MembersManage, true},
		{"developer cannot manage members", user(auth.RoleDeveloper), rbac.MembersManage, false},
		{"developer reads members", user(auth.RoleDeveloper), rbac.MembersRead, true},
		{"finance reads keys", user(auth.RoleFinance), rbac.KeysRead, true},
		{"finance cannot manage keys", user(auth.RoleFinance), rbac.KeysManage, false},
		{"finance cannot read logs", user(auth.RoleFinance), rbac.LogsRead, false},
		{"admin audits", admin, rbac.AdminAuditRead, true},
		{"admin cannot manage partner keys", admin, rbac.KeysManage, false},
		{"owner is no admin", user(auth.RoleOwner), rbac.AdminPartnersRead, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := c.Check(context.Background(), tc.p, tc.action)
			if tc.allow {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, fault.ErrForbidden)
			assert.NotEmpty(t, err.Error())
		})
	}
}

type brokenEngine struct{}

func (brokenEngine) DecideControlPlane(context.Context, policies.ControlPlaneInput) (policies.Decision, error) {
	return policies.Decision{}, policies.ErrPolicy
}

func TestCheckerFailsClosed(t *testing.T) {
	t.Parallel()
	c, err := rbac.New(brokenEngine{})
	require.NoError(t, err)
	err = c.Check(context.Background(), auth.Principal{Kind: auth.KindUser, Role: auth.RoleOwner}, rbac.WorkspaceRead)
	require.Error(t, err)
	assert.ErrorIs(t, err, policies.ErrPolicy)
	assert.False(t, errors.Is(err, fault.ErrForbidden), "a policy failure is not a plain denial")

	_, err = rbac.New(nil)
	require.Error(t, err)
}

func TestAuthorize(t *testing.T) {
	t.Parallel()
	engine, err := policies.New(policies.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	c, err := rbac.New(engine)
	require.NoError(t, err)

	_, err = rbac.Authorize(context.Background(), c, rbac.WorkspaceRead)
	require.ErrorIs(t, err, fault.ErrUnauthorized)

	owner := auth.Principal{Kind: auth.KindUser, ID: "usr_1", Role: auth.RoleOwner}
	got, err := rbac.Authorize(auth.WithPrincipal(context.Background(), owner), c, rbac.MembersManage)
	require.NoError(t, err)
	assert.Equal(t, owner, got)
}
