package sandbox

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/gateway-plugin/edge"
)

// TestEdgeDenialsAreTheEdgesCodes keeps the partner API document's copy of the edge's
// denials equal to the edge's own table.
func TestEdgeDenialsAreTheEdgesCodes(t *testing.T) {
	t.Parallel()
	var documented []string
	for status, codes := range edgeDenials {
		for _, code := range codes {
			assert.Equal(t, status, edge.NewProblem(code, "", "").Status, code)
			documented = append(documented, code)
		}
	}
	slices.Sort(documented)
	assert.Equal(t, edge.Codes(), documented)
}

// TestOperationsAreTheEdgesRoutes: every operation the vendor serves and documents is a
// route of the edge, under the edge's route name.
func TestOperationsAreTheEdgesRoutes(t *testing.T) {
	t.Parallel()
	routes := map[string]edge.Route{}
	for _, r := range edge.DefaultRoutes {
		routes[r.Name] = r
	}
	tags := map[string]bool{}
	for _, tag := range PartnerOpenAPI("test").Tags {
		tags[tag.Name] = true
	}
	for _, op := range operations {
		assert.True(t, tags[strings.Split(op.id, ".")[0]], "%s: its tag is listed, with a description", op.id)
		r, ok := routes[op.id]
		require.True(t, ok, "%s is an edge route", op.id)
		assert.Equal(t, r.Method, op.method, op.id)
		assert.Equal(t, r.Pattern, op.path, op.id)
		for _, code := range op.problems {
			assert.NotZero(t, problems[code].status, "%s: %s is a sandbox problem code", op.id, code)
		}
		for status := range op.ok {
			assert.Less(t, status, http.StatusMultipleChoices, op.id)
		}
	}
}
