package policies

import (
	"bytes"
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	controlPlaneRegoPath = "steller/controlplane/controlplane.rego"
	controlPlaneDataPath = "steller/controlplane/data.json"
)

func cpInput(kind, role, action string) ControlPlaneInput {
	return ControlPlaneInput{Principal: ControlPlanePrincipal{Kind: kind, Role: role}, Action: action}
}

func TestDecideControlPlane(t *testing.T) {
	t.Parallel()
	e := newEngine(t, 0)
	deny := func(reason string) Decision { return Decision{Code: "forbidden", Reason: reason} }
	cases := []struct {
		name string
		in   ControlPlaneInput
		want Decision
	}{
		{"owner manages members", cpInput("user", "owner", "members.manage"), Decision{Allow: true}},
		{"developer manages keys", cpInput("user", "developer", "keys.manage"), Decision{Allow: true}},
		{"developer cannot manage members", cpInput("user", "developer", "members.manage"), deny(`role "developer" may not members.manage`)},
		{"finance reads usage", cpInput("user", "finance", "usage.read"), Decision{Allow: true}},
		{"finance cannot read logs", cpInput("user", "finance", "logs.read"), deny(`role "finance" may not logs.read`)},
		{"admin reads partners", cpInput("admin", "", "admin.partners.read"), Decision{Allow: true}},
		{"admin cannot act as a partner", cpInput("admin", "", "keys.manage"), deny("platform admins may not keys.manage: use the admin paths")},
		{"user cannot act as admin", cpInput("user", "owner", "admin.audit.read"), deny(`role "owner" may not admin.audit.read`)},
		{"unknown action", cpInput("user", "owner", "nope"), deny(`unknown action "nope"`)},
		{"anonymous", cpInput("", "", "workspace.read"), deny(`unknown caller kind ""`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := e.DecideControlPlane(context.Background(), tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestDecideControlPlaneFailsClosedWithoutPolicy: a bundle with only the edge policy loads
// (the edge does not need RBAC), and the control plane then gets an error, never an allow.
func TestDecideControlPlaneFailsClosedWithoutPolicy(t *testing.T) {
	t.Parallel()
	files := fstest.MapFS{}
	for k, v := range defaultFiles(t) {
		if k != controlPlaneRegoPath && k != controlPlaneDataPath && k != "steller/controlplane/controlplane_test.rego" {
			files[k] = v
		}
	}
	e, err := New(Config{Logger: discard(), Bundle: bytes.NewReader(bundleOf(t, files, "edge-only"))})
	require.NoError(t, err)
	_, err = e.DecideControlPlane(context.Background(), cpInput("user", "owner", "workspace.read"))
	require.ErrorIs(t, err, ErrPolicy)
}

// TestControlPlaneProbeRejectsMalformedPolicy: a bundle whose control-plane decision has
// the wrong shape is refused at load time, not discovered per request.
func TestControlPlaneProbeRejectsMalformedPolicy(t *testing.T) {
	t.Parallel()
	files := defaultFiles(t)
	delete(files, "steller/controlplane/controlplane_test.rego")
	files = replaceIn(t, files, controlPlaneRegoPath,
		`decision := {"allow": true, "code": "", "reason": ""} if {`,
		`decision := {"allow": "yes", "code": "", "reason": ""} if {`)
	_, err := ValidateBundle(context.Background(), bytes.NewReader(bundleOf(t, files, "bad")))
	require.ErrorIs(t, err, ErrBundleRejected)
	assert.Contains(t, err.Error(), "probe control-plane decision")
}

// TestControlPlaneRegoTestsCatchABrokenPolicy proves the RBAC Rego tests are not vacuous.
func TestControlPlaneRegoTestsCatchABrokenPolicy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, path, old, new string
	}{
		{"finance reads logs", controlPlaneDataPath, `"finance": ["workspace.read",`, `"finance": ["logs.read", "workspace.read",`},
		{"developer manages members", controlPlaneDataPath, `"developer": [`, `"developer": ["members.manage", `},
		{"admin acts as a partner", controlPlaneDataPath, `"admin_actions": [`, `"admin_actions": ["keys.manage", `},
		{"kind ignored", controlPlaneRegoPath, "\tinput.principal.kind == \"user\"\n\tinput.action in data", "\tinput.action in data"},
		{"admin denial turned allow", controlPlaneRegoPath, `deny(sprintf("platform admins may not %s: use the admin paths", [action])) if {`, `{"allow": true, "code": "", "reason": ""} if {`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := replaceIn(t, defaultFiles(t), tc.path, tc.old, tc.new)
			b, err := readBundle(bytes.NewReader(bundleOf(t, files, "broken")))
			require.NoError(t, err)
			modules := map[string]*ast.Module{}
			for _, m := range b.Modules {
				modules[m.Path] = m.Parsed
			}
			_, err = runRegoTests(context.Background(), modules, b.Data, 10*time.Second)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "steller.controlplane_test")
		})
	}
}
