package policies

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRegoPolicies runs every Rego test of the embedded policy through OPA's tester, one
// subtest each, so a failing Rego test fails `go test ./policies/...` by name.
func TestRegoPolicies(t *testing.T) {
	t.Parallel()
	raw, err := defaultBundle()
	require.NoError(t, err)
	b, err := readBundle(bytes.NewReader(raw))
	require.NoError(t, err)

	modules := map[string]*ast.Module{}
	declared := 0
	for _, m := range b.Modules {
		modules[m.Path] = m.Parsed
		for _, r := range m.Parsed.Rules {
			if strings.HasPrefix(r.Head.Name.String(), "test_") {
				declared++
			}
		}
	}
	results, err := regoTestResults(context.Background(), modules, b.Data, 10*time.Second)
	require.NoError(t, err)
	// Every declared test ran: none was skipped or lost to a discovery problem.
	require.Equal(t, declared, len(results))
	require.NotZero(t, declared)

	for _, r := range results {
		t.Run(r.Package+"."+r.Name, func(t *testing.T) {
			t.Parallel()
			assert.NoError(t, r.Error)
			assert.False(t, r.Skip, "skipped")
			assert.True(t, r.Pass(), "failed at %v", r.FailedAt)
		})
	}
}

// TestRegoTestsCatchABrokenPolicy proves the Rego tests are not vacuous: disabling any one
// check of the policy makes at least one of them fail.
func TestRegoTestsCatchABrokenPolicy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		old, new string
	}{
		{"suspension ignored", `input.partner_status == "suspended"`, `input.partner_status == "never"`},
		{"star role ignored", `role_granted if "*" in input.roles`, `role_granted if "**" in input.roles`},
		{"environment ignored", `environment_allowed if input.environment in route.environments`, `environment_allowed := true`},
		{"route check dropped", "\tnot route\n", "\tfalse\n"},
		{"method ignored", `method != route.method`, `false`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := replaceIn(t, defaultFiles(t), edgeRegoPath, tc.old, tc.new)
			b, err := readBundle(bytes.NewReader(bundleOf(t, files, "broken")))
			require.NoError(t, err)
			modules := map[string]*ast.Module{}
			for _, m := range b.Modules {
				modules[m.Path] = m.Parsed
			}
			_, err = runRegoTests(context.Background(), modules, b.Data, 10*time.Second)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "Rego tests failed")
		})
	}
}
