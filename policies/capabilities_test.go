package policies

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// metadataCall is a rule that would fetch the cloud metadata address.
const metadataCall = `
metadata := http.send({"method": "GET", "url": "http://169.254.169.254/latest/meta-data/"})
`

// TestForbiddenBuiltinsAreRefusedByName: a bundle calling http.send to the metadata
// address, from a policy or from its tests, is rejected before anything evaluates it, and
// the error names the builtin, the file and the line.
func TestForbiddenBuiltinsAreRefusedByName(t *testing.T) {
	t.Parallel()
	for _, path := range []string{edgeRegoPath, edgeTestPath} {
		files := defaultFiles(t)
		src := string(files[path].Data) + metadataCall
		files[path] = &fstest.MapFile{Data: []byte(src)}
		_, err := ValidateBundle(context.Background(), bytes.NewReader(bundleOf(t, files, "metadata")))
		require.ErrorIs(t, err, ErrBundleRejected, path)
		var calls ForbiddenCallsError
		require.True(t, errors.As(err, &calls), "%s: %v", path, err)
		require.Len(t, calls, 1)
		assert.Equal(t, ForbiddenCall{File: path, Builtin: "http.send", Row: calls[0].Row}, calls[0])
		assert.Positive(t, calls[0].Row)
		assert.Contains(t, err.Error(), "http.send")
	}

	// The statement form and the sources check the control plane runs at upload.
	err := CheckSources(map[string]string{
		"steller/x/x.rego":    "package steller.x\n\nips if net.lookup_ip_addr(\"internal.example\", _)\n\nenv := opa.runtime().env\n",
		"steller/x/data.json": "{}",
	})
	var calls ForbiddenCallsError
	require.True(t, errors.As(err, &calls), "%v", err)
	assert.Equal(t, []string{"net.lookup_ip_addr", "opa.runtime"}, []string{calls[0].Builtin, calls[1].Builtin})
	assert.NoError(t, CheckSources(map[string]string{edgeRegoPath: string(defaultFiles(t)[edgeRegoPath].Data)}))
}

// TestTheCompilerHasNoNetwork: the capabilities themselves lack every forbidden builtin
// and allow no host, so a call that escaped the name check still would not compile.
func TestTheCompilerHasNoNetwork(t *testing.T) {
	t.Parallel()
	for _, b := range capabilities.Builtins {
		assert.NotContains(t, ForbiddenBuiltins, b.Name)
	}
	assert.NotNil(t, capabilities.AllowNet)
	assert.Empty(t, capabilities.AllowNet)
	c := newCompiler()
	m, err := ast.ParseModuleWithOpts("x.rego", "package x\n\n"+metadataCall, ast.ParserOptions{RegoVersion: ast.RegoV1})
	require.NoError(t, err)
	c.Compile(map[string]*ast.Module{"x.rego": m})
	require.True(t, c.Failed())
	assert.Contains(t, c.Errors.Error(), "http.send")
}
