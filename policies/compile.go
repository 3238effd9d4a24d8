package policies

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// queryID indexes the queries every policy set prepares. A later policy (the control
// plane's RBAC) adds a constant here and its query below, and a typed helper on Engine.
type queryID int

const (
	queryEdge queryID = iota
	queryControlPlane
	numQueries
)

// queries are the documents the engine asks for, prepared once per bundle.
var queries = [numQueries]string{
	queryEdge:         "data.steller.edge.decision",
	queryControlPlane: "data.steller.controlplane.decision",
}

// BundleInfo describes the active policy bundle.
type BundleInfo struct {
	// Revision is the bundle manifest's revision (DefaultRevision() for the embedded one).
	Revision string
	// ETag is the HTTP entity tag the bundle was served with; empty when not polled.
	ETag string
	// ActivatedAt is when the bundle replaced the previous one, by the engine's clock.
	ActivatedAt time.Time
	// Tests is the number of Rego tests the bundle carried; all passed before activation.
	Tests int
}

// policySet is one compiled bundle: its prepared queries and the decision cache that is
// valid for it alone. It is immutable once built (the cache is internally synchronized),
// so activating a bundle is one atomic pointer swap and drops the old cache with it.
type policySet struct {
	info BundleInfo
	// digest is the SHA-256 of the bundle archive, to recognise a reload of the same bytes.
	digest   [sha256.Size]byte
	prepared [numQueries]rego.PreparedEvalQuery
	// edgeFields are the input fields the edge policy reads: the decision-cache key is
	// made of these alone, so a policy that ignores the path caches across order ids.
	edgeFields inputFields
	// cache is nil when caching is disabled or the policy calls a nondeterministic builtin.
	cache *decisionCache
}

// compileOptions are the engine settings that shape a policy set.
type compileOptions struct {
	cacheSize   int
	testTimeout time.Duration
}

// compile checks a parsed bundle end to end and returns the set to activate: run its Rego
// tests (if any), compile the policy modules, prepare every query, and probe the edge query
// so a bundle without a well-formed edge decision is refused here, not per request.
func compile(ctx context.Context, b *bundle.Bundle, opts compileOptions) (*policySet, error) {
	all := make(map[string]*ast.Module, len(b.Modules))
	policy := make(map[string]*ast.Module, len(b.Modules))
	for _, m := range b.Modules {
		all[m.Path] = m.Parsed
		if !strings.HasSuffix(m.Path, "_test.rego") {
			policy[m.Path] = m.Parsed
		}
	}
	data := b.Data
	if data == nil {
		data = map[string]any{}
	}

	// Refuse forbidden builtins by name before anything runs them (the tests included);
	// the restricted capabilities below would refuse them too, less clearly.
	if err := forbiddenCalls(all); err != nil {
		return nil, err
	}
	tests, err := runRegoTests(ctx, all, data, opts.testTimeout)
	if err != nil {
		return nil, err
	}

	compiler := newCompiler()
	if compiler.Compile(policy); compiler.Failed() {
		return nil, fmt.Errorf("compile: %w", compiler.Errors)
	}
	store := inmem.NewFromObjectWithOpts(data,
		inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))

	set := &policySet{info: BundleInfo{Revision: b.Manifest.Revision, Tests: tests}}
	for id, q := range queries {
		pq, err := rego.New(rego.Query(q), rego.Compiler(compiler), rego.Store(store)).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("prepare %s: %w", q, err)
		}
		set.prepared[id] = pq
	}

	var deterministic bool
	set.edgeFields, deterministic = analyze(compiler.Modules)
	if opts.cacheSize > 0 && deterministic {
		set.cache = newDecisionCache(opts.cacheSize)
	}

	probe := EdgeInput{Method: "GET", Path: "/", Route: "unknown", Environment: "test", PartnerStatus: "active"}
	if _, err := set.evalEdge(ctx, &probe); err != nil {
		return nil, fmt.Errorf("probe edge decision: %w", err)
	}
	// The control-plane policy is optional in a bundle (an edge-only bundle leaves the
	// control plane failing closed), but one that is there must decide well-formed.
	if hasPackage(policy, controlPlanePackage) {
		cp := ControlPlaneInput{Principal: ControlPlanePrincipal{Kind: "user", Role: "owner"}, Action: "workspace.read"}
		if _, err := set.evalControlPlane(ctx, &cp); err != nil {
			return nil, fmt.Errorf("probe control-plane decision: %w", err)
		}
	}
	return set, nil
}

// runRegoTests runs every test_ rule of the modules against data with OPA's tester and
// returns how many ran. Any failing or erroring test is an error that names it.
func runRegoTests(ctx context.Context, modules map[string]*ast.Module, data map[string]any, timeout time.Duration) (int, error) {
	results, err := regoTestResults(ctx, modules, data, timeout)
	if err != nil {
		return 0, err
	}
	var failed []string
	for _, r := range results {
		if !r.Pass() && !r.Skip {
			failed = append(failed, r.Package+"."+r.Name)
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		return 0, fmt.Errorf("%d of %d Rego tests failed: %s", len(failed), len(results), strings.Join(failed, ", "))
	}
	return len(results), nil
}

// regoTestResults runs the tests and returns every result, for callers (the Go test of the
// embedded policy) that report each test separately.
func regoTestResults(ctx context.Context, modules map[string]*ast.Module, data map[string]any, timeout time.Duration) ([]*tester.Result, error) {
	store := inmem.NewFromObjectWithOpts(data, inmem.OptRoundTripOnWrite(false))
	ch, err := tester.NewRunner().
		SetCompiler(newCompiler()).
		SetDefaultRegoVersion(ast.RegoV1).
		SetStore(store).
		SetModules(modules).
		SetTimeout(timeout).
		RunTests(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("compile with tests: %w", err)
	}
	var results []*tester.Result
	for r := range ch {
		results = append(results, r)
	}
	return results, ctx.Err()
}

// inputFields is a set of EdgeInput fields, one bit each.
type inputFields uint8

const (
	fieldMethod inputFields = 1 << iota
	fieldPath
	fieldRoute
	fieldEnvironment
	fieldRoles
	fieldPartnerID
	fieldPartnerStatus

	allFields = fieldMethod | fieldPath | fieldRoute | fieldEnvironment | fieldRoles | fieldPartnerID | fieldPartnerStatus
)

var fieldsByName = map[string]inputFields{
	"method": fieldMethod, "path": fieldPath, "route": fieldRoute, "environment": fieldEnvironment,
	"roles": fieldRoles, "partner_id": fieldPartnerID, "partner_status": fieldPartnerStatus,
}

// analyze reports which input fields the compiled modules can read and whether they are
// deterministic (call no builtin such as time.now_ns or http.send whose answer changes
// for the same input, which would make cached decisions wrong). It errs on the safe
// side: any use of input other than input.<constant name> counts as reading every field.
func analyze(modules map[string]*ast.Module) (fields inputFields, deterministic bool) {
	deterministic = true
	for _, m := range modules {
		ast.WalkRefs(m, func(ref ast.Ref) bool {
			if !ref.HasPrefix(ast.InputRootRef) {
				return false
			}
			if len(ref) < 2 {
				fields = allFields
				return false
			}
			name, ok := ref[1].Value.(ast.String)
			if !ok {
				fields = allFields
				return false
			}
			fields |= fieldsByName[string(name)]
			return false
		})
		ast.WalkExprs(m, func(e *ast.Expr) bool {
			if op := e.Operator(); op != nil {
				if b, ok := ast.BuiltinMap[op.String()]; ok && b.IsNondeterministic() {
					deterministic = false
				}
			}
			return false
		})
	}
	return fields, deterministic
}

// errUndefined is the cause when a query has no result: the policy is missing or broken.
var errUndefined = errors.New("decision is undefined")
