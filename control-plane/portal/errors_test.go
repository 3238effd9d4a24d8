package portal_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/control-plane/onboarding"
	"github.com/steller/platform/control-plane/sandbox"
)

// codeName is what a problem code looks like: lower-case words joined by underscores.
var codeName = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// codeConst names a constant or variable that holds a problem code: CodeX, codeX, XCode.
var codeConst = regexp.MustCompile(`^([Cc]ode[A-Z]|.*Code$)`)

// sourceCodes finds the problem codes the repository's Go code sends, by reading it: string
// constants named like codes (edge.CodeIPNotAllowed, the sandbox's codeNotLive,
// edgewire.ResyncCode), the code arguments of fault.Coded, fault.Wrap and problem.New, and
// Code fields set to a literal. It maps each code to where it was found. A code added
// anywhere this way is found without anyone listing it.
func sourceCodes(t *testing.T) map[string]string {
	t.Helper()
	found := map[string]string{}
	fset := token.NewFileSet()
	add := func(e ast.Expr) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return
		}
		s, err := strconv.Unquote(lit.Value)
		if err == nil && codeName.MatchString(s) {
			if _, seen := found[s]; !seen {
				found[s] = fset.Position(lit.Pos()).String()
			}
		}
	}
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "../.." && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, name := range n.Names {
					if codeConst.MatchString(name.Name) && i < len(n.Values) {
						add(n.Values[i])
					}
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && len(n.Args) >= 2 {
					pkg, _ := sel.X.(*ast.Ident)
					if pkg != nil && (pkg.Name == "fault" && (sel.Sel.Name == "Coded" || sel.Sel.Name == "Wrap") ||
						pkg.Name == "problem" && sel.Sel.Name == "New") {
						add(n.Args[1])
					}
				}
			case *ast.KeyValueExpr:
				if key, ok := n.Key.(*ast.Ident); ok && key.Name == "Code" {
					add(n.Value)
				}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	for status := 400; status <= 599; status++ {
		if code := problem.StatusCode(status); found[code] == "" {
			found[code] = fmt.Sprintf("problem.StatusCode(%d)", status)
		}
	}
	return found
}

// TestTheSourceFindsTheKnownCodes keeps sourceCodes honest: it must find codes of each kind
// of place codes are declared in, or TestEveryCodeHasItsEntryInTheErrorsGuide checks nothing.
func TestTheSourceFindsTheKnownCodes(t *testing.T) {
	found := sourceCodes(t)
	for _, code := range []string{
		"ip_not_allowed",          // edge.CodeIPNotAllowed
		"environment_not_live",    // the sandbox's unexported codeNotLive
		"resync_required",         // edgewire.ResyncCode
		"edge_signature_stale",    // edgesign.CodeStale
		"live_request_reviewed",   // liverequest.CodeAlreadyReviewed
		"unknown_source",          // growth.CodeUnknownSource
		"not_acceptable",          // problem.StatusCode(406)
		"idempotency_key_invalid", // the sandbox's codeIdempotencyKey
	} {
		assert.Contains(t, found, code)
	}
	assert.NotContains(t, found, "23505", "PostgreSQL's error codes are not problem codes")
}

// Every code the source sends is registered in contract/problem, and every registered code
// has exactly one entry in the errors guide, under a heading whose id is the code, that
// states its status and title; the problems' type URLs and the onboarding's links to the
// guide (onboarding.ErrorDoc) name that entry.
func TestEveryCodeHasItsEntryInTheErrorsGuide(t *testing.T) {
	found := sourceCodes(t)
	for code, where := range found {
		_, ok := problem.Lookup(code)
		assert.True(t, ok, "%s (%s) is not registered in contract/problem's Codes: add it there, "+
			"to README.md's Problem codes and to control-plane/portal/guides/errors.md", code, where)
	}

	srv := serve(t)
	resp, body := get(t, srv, "/docs/errors")
	require.Equal(t, 200, resp.StatusCode)
	for _, c := range problem.Codes() {
		id := `id="` + c.Name + `"`
		if !assert.Equal(t, 1, strings.Count(body, id), "the errors guide has %s once", id) {
			continue
		}
		entry := body[strings.Index(body, id):]
		if end := strings.Index(entry[1:], "<h"); end >= 0 {
			entry = entry[:end+1]
		}
		assert.Contains(t, entry, fmt.Sprintf("<strong>%d · %s.</strong>", c.Status, c.Title),
			"the errors guide's entry of %s states its status and title", c.Name)

		typ, err := url.Parse(problem.TypeURL(c.Name))
		require.NoError(t, err)
		assert.Equal(t, "/docs/errors", typ.Path, "the type URL of %s is the errors guide", c.Name)
		assert.Equal(t, c.Name, typ.Fragment, "the type URL of %s names its entry", c.Name)
		doc, anchor, _ := strings.Cut(onboarding.ErrorDoc(c.Name), "#")
		assert.Equal(t, "/docs/errors", doc)
		assert.Equal(t, c.Name, anchor)
	}
}

// The onboarding's stuck hint names a failure the partner API answered itself by its status
// (http_<status>); the errors guide has an entry for each 4xx the partner API declares.
func TestEveryStatusOfThePartnerAPIHasItsEntryInTheErrorsGuide(t *testing.T) {
	statuses := map[int]bool{}
	for _, item := range sandbox.PartnerOpenAPI("test").Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if op == nil {
				continue
			}
			for key := range op.Responses {
				if s, err := strconv.Atoi(key); err == nil && s >= 400 && s < 500 {
					statuses[s] = true
				}
			}
		}
	}
	require.NotEmpty(t, statuses, "the partner API declares its 4xx answers")
	srv := serve(t)
	_, body := get(t, srv, "/docs/errors")
	for _, s := range slices.Sorted(maps.Keys(statuses)) {
		doc, anchor, _ := strings.Cut(onboarding.ErrorDoc("http_"+strconv.Itoa(s)), "#")
		assert.Equal(t, "/docs/errors", doc)
		assert.Equal(t, 1, strings.Count(body, `id="`+anchor+`"`), "the errors guide has an entry for %s", anchor)
	}
}

// The docs search indexes the errors guide: a code finds its own entry.
func TestSearchFindsEveryCodesEntry(t *testing.T) {
	srv := serve(t)
	for _, c := range problem.Codes() {
		_, body := get(t, srv, "/docs/search?q="+url.QueryEscape(c.Name))
		assert.Contains(t, body, `href="/docs/errors#`+c.Name+`"`, "searching %s", c.Name)
	}
}
