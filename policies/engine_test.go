package policies

import (
	"bytes"
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	_, err := New(Config{})
	require.ErrorContains(t, err, "Logger is required")

	_, err = New(Config{Logger: discard(), Bundle: bytes.NewReader([]byte("not a bundle"))})
	require.ErrorIs(t, err, ErrBundleRejected)
}

func TestNewActivatesEmbeddedDefault(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e, err := New(Config{Logger: discard(), Clock: fixedClock(at)})
	require.NoError(t, err)
	info := e.Active()
	assert.Equal(t, DefaultRevision(), info.Revision)
	assert.Equal(t, DefaultRevision(), e.Revision())
	assert.Regexp(t, `^embedded-[0-9a-f]{12}$`, info.Revision)
	assert.Empty(t, e.ETag())
	assert.Equal(t, at, info.ActivatedAt)
	assert.Positive(t, info.Tests)
	assert.Equal(t, uint64(1), e.Stats().BundleLoads)
}

// TestDecideEdge runs every rule of the edge policy through the engine, with the cache
// off and on (the second pass over the same inputs answers from the cache).
func TestDecideEdge(t *testing.T) {
	t.Parallel()
	allow := Decision{Allow: true}
	deny := func(code, reason string) Decision { return Decision{Code: code, Reason: reason} }
	cases := []struct {
		name string
		in   EdgeInput
		want Decision
	}{
		{"catalog with its role", input(), allow},
		{"test key on catalog", input(func(in *EdgeInput) { in.Environment = "test" }), allow},
		{"orders.create", input(func(in *EdgeInput) {
			in.Method, in.Path, in.Route, in.Roles = "POST", "/v1/orders", "orders.create", []string{"orders:write"}
		}), allow},
		{"orders.get", input(func(in *EdgeInput) {
			in.Path, in.Route, in.Roles = "/v1/orders/ord_9", "orders.get", []string{"orders:read"}
		}), allow},
		{"balance.get", input(func(in *EdgeInput) {
			in.Path, in.Route, in.Roles = "/v1/balance", "balance.get", []string{"balance:read"}
		}), allow},
		{"settlements.list live", input(func(in *EdgeInput) {
			in.Path, in.Route, in.Roles = "/v1/settlements", "settlements.list", []string{"finance:read"}
		}), allow},
		{"sandbox.simulate test", input(func(in *EdgeInput) {
			in.Method, in.Path, in.Route, in.Environment, in.Roles = "POST", "/v1/sandbox/x", "sandbox.simulate", "test", []string{"orders:write"}
		}), allow},
		{"star role", input(func(in *EdgeInput) { in.Roles = []string{"*"} }), allow},
		{"one of several roles", input(func(in *EdgeInput) { in.Roles = []string{"balance:read", "catalog:read"} }), allow},
		{"suspended partner", input(func(in *EdgeInput) { in.PartnerStatus = "suspended" }),
			deny("partner_suspended", "partner is suspended")},
		{"suspension beats every other rule", input(func(in *EdgeInput) {
			in.PartnerStatus, in.Route, in.Environment, in.Roles = "suspended", "unknown", "test", nil
		}), deny("partner_suspended", "partner is suspended")},
		{"partner not active", input(func(in *EdgeInput) { in.PartnerStatus = "" }),
			deny("forbidden_by_policy", `partner status "" is not active`)},
		{"unknown route", input(func(in *EdgeInput) { in.Route, in.Roles = "unknown", []string{"*"} }),
			deny("forbidden_by_policy", "no such route")},
		{"unlisted route", input(func(in *EdgeInput) { in.Route, in.Roles = "admin.partners", []string{"*"} }),
			deny("forbidden_by_policy", "no such route")},
		{"wrong method", input(func(in *EdgeInput) { in.Method = "DELETE" }),
			deny("forbidden_by_policy", "route catalog.list does not accept DELETE")},
		{"missing role", input(func(in *EdgeInput) {
			in.Method, in.Route, in.Roles = "POST", "orders.create", []string{"orders:read", "catalog:read"}
		}), deny("forbidden_by_policy", "key lacks role orders:write required by route orders.create")},
		{"no roles", input(func(in *EdgeInput) { in.Roles = nil }),
			deny("forbidden_by_policy", "key lacks role catalog:read required by route catalog.list")},
		{"test key on live-only route", input(func(in *EdgeInput) {
			in.Route, in.Environment, in.Roles = "settlements.list", "test", []string{"finance:read"}
		}), deny("forbidden_by_policy", "test keys cannot call live-only route settlements.list")},
		{"live key on test-only route", input(func(in *EdgeInput) {
			in.Method, in.Route, in.Roles = "POST", "sandbox.simulate", []string{"*"}
		}), deny("forbidden_by_policy", "live keys cannot call test-only route sandbox.simulate")},
		{"unknown environment", input(func(in *EdgeInput) { in.Environment = "staging" }),
			deny("forbidden_by_policy", "staging keys cannot call route catalog.list (environments: test, live)")},
		{"empty input", EdgeInput{}, deny("forbidden_by_policy", `partner status "" is not active`)},
	}
	for _, cacheSize := range []int{-1, 64} {
		e := newEngine(t, cacheSize)
		for pass := range 2 {
			for _, tc := range cases {
				got, err := e.DecideEdge(context.Background(), tc.in)
				require.NoError(t, err, tc.name)
				assert.Equal(t, tc.want, got, "%s (cache %d, pass %d)", tc.name, cacheSize, pass)
			}
		}
		s := e.Stats()
		assert.Equal(t, uint64(2*len(cases)), s.Decisions)
		assert.Zero(t, s.Errors)
		if cacheSize < 0 {
			assert.Zero(t, s.CacheHits)
			assert.Equal(t, s.Decisions, s.Evaluations)
		} else {
			// The second pass is answered from the cache, and inputs that differ only in
			// what the policy ignores (path, partner) share entries even in the first.
			assert.GreaterOrEqual(t, s.CacheHits, uint64(len(cases)))
			assert.Equal(t, s.Decisions, s.CacheHits+s.Evaluations)
		}
	}
}

func TestCacheHitAndInvalidationOnNewBundle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEngine(t, 16)
	in := input()

	d, err := e.DecideEdge(ctx, in)
	require.NoError(t, err)
	require.True(t, d.Allow)
	assert.Equal(t, 1, e.CachedDecisions())

	// Another order id, another partner: same key, because the policy reads neither.
	_, err = e.DecideEdge(ctx, input(func(in *EdgeInput) { in.Path, in.PartnerID = "/v1/catalog?x", "prt_2" }))
	require.NoError(t, err)
	assert.Equal(t, Stats{Decisions: 2, Evaluations: 1, CacheHits: 1, BundleLoads: 1}, e.Stats())

	// A new bundle moves catalog.list to another role: the cached allow must not survive.
	// (Its Rego tests expect the old role, so this bundle ships without them.)
	files := replaceIn(t, defaultFiles(t), edgeDataPath, `"role": "catalog:read"`, `"role": "catalog:admin"`)
	delete(files, edgeTestPath)
	info, err := e.LoadBundle(ctx, bytes.NewReader(bundleOf(t, files, "v2")))
	require.NoError(t, err)
	assert.Equal(t, "v2", info.Revision)
	assert.Equal(t, "v2", e.Revision())
	assert.Zero(t, e.CachedDecisions(), "a new bundle starts with an empty cache")

	d, err = e.DecideEdge(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, Decision{Code: "forbidden_by_policy", Reason: "key lacks role catalog:admin required by route catalog.list"}, d)

	// Loading the same bytes again keeps the compiled set and its warm cache.
	_, err = e.LoadBundle(ctx, bytes.NewReader(bundleOf(t, files, "v2")))
	require.NoError(t, err)
	assert.Equal(t, 1, e.CachedDecisions())
	assert.Equal(t, uint64(2), e.Stats().BundleLoads)
}

// TestLoadBundleRejects checks that no broken bundle replaces the active one.
func TestLoadBundleRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		bundle func(t *testing.T) []byte
		want   string
	}{
		{"not gzip", func(*testing.T) []byte { return []byte("garbage") }, "read bundle"},
		{"empty", func(*testing.T) []byte { return nil }, "read bundle"},
		{"syntax error", func(t *testing.T) []byte {
			return tarGz(t, map[string]string{"/steller/edge/edge.rego": "package steller.edge\n\ndecision := {{"})
		}, "rego_parse_error"},
		{"unsupported delta bundle", func(t *testing.T) []byte {
			return tarGz(t, map[string]string{
				"/.manifest":  `{"revision": "d", "roots": ["steller"]}`,
				"/patch.json": `{"data": [{"op": "upsert", "path": "/steller/x", "value": 1}]}`,
			})
		}, "delta"},
		{"compile error", func(t *testing.T) []byte {
			return bundleOf(t, replaceIn(t, defaultFiles(t), edgeRegoPath, "route.role in input.roles", "route.role in undefined_var"), "bad")
		}, "undefined_var"},
		{"failing Rego test", func(t *testing.T) []byte {
			return bundleOf(t, replaceIn(t, defaultFiles(t), edgeRegoPath, `"partner is suspended"`, `"partner suspended"`), "bad")
		}, "test_suspended_partner_denied"},
		{"no edge decision", func(t *testing.T) []byte {
			files := replaceIn(t, defaultFiles(t), edgeRegoPath, "package steller.edge\n", "package steller.other\n")
			delete(files, edgeTestPath)
			return bundleOf(t, files, "bad")
		}, "decision is undefined"},
		{"malformed decision", func(t *testing.T) []byte {
			files := replaceIn(t, defaultFiles(t), edgeRegoPath, `deny(code, reason) := {"allow": false,`, `deny(code, reason) := {"allow": "no",`)
			delete(files, edgeTestPath)
			return bundleOf(t, files, "bad")
		}, "want a boolean"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, 16)
			before := e.Active()
			_, err := e.LoadBundle(context.Background(), bytes.NewReader(tc.bundle(t)))
			require.ErrorIs(t, err, ErrBundleRejected)
			assert.ErrorContains(t, err, tc.want)
			assert.Equal(t, before, e.Active(), "the active bundle stays")
			assert.Equal(t, uint64(1), e.Stats().BundleRejections)

			_, err = ValidateBundle(context.Background(), bytes.NewReader(tc.bundle(t)))
			require.ErrorIs(t, err, ErrBundleRejected)

			d, err := e.DecideEdge(context.Background(), input())
			require.NoError(t, err)
			assert.True(t, d.Allow, "the old policy still decides")
		})
	}
}

func TestValidateBundleAcceptsDefault(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, WriteDefaultBundle(&buf, "r1"))
	info, err := ValidateBundle(context.Background(), &buf)
	require.NoError(t, err)
	assert.Equal(t, "r1", info.Revision)
	assert.Positive(t, info.Tests)
}

// TestDecideEdgeFailsClosed: a policy that is defined for the activation probe but not
// for a real request yields an ErrPolicy error, never an allow, and is not cached.
func TestDecideEdgeFailsClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	files := fstest.MapFS{edgeRegoPath: {Data: []byte(`package steller.edge

decision := {"allow": false, "code": "forbidden_by_policy", "reason": "probe"} if input.route == "unknown"
`)}}
	e := newEngine(t, 16)
	_, err := e.LoadBundle(ctx, bytes.NewReader(bundleOf(t, files, "partial")))
	require.NoError(t, err)

	for range 2 {
		d, err := e.DecideEdge(ctx, input(func(in *EdgeInput) { in.PartnerStatus = "pending" }))
		require.ErrorIs(t, err, ErrPolicy)
		assert.ErrorIs(t, err, errUndefined)
		assert.Equal(t, Decision{}, d)
	}
	assert.Equal(t, uint64(2), e.Stats().Errors)
	assert.Zero(t, e.CachedDecisions())
}

func TestCacheFollowsWhatThePolicyReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEngine(t, 16)
	assert.Equal(t, fieldMethod|fieldRoute|fieldEnvironment|fieldRoles|fieldPartnerStatus, e.active.Load().edgeFields)

	// A policy that reads the path keys its cache on the path too.
	files := replaceIn(t, defaultFiles(t), edgeRegoPath, `decision := {"allow": true, "code": "", "reason": ""} if {`,
		`decision := deny("forbidden_by_policy", "no admin paths") if {
	startswith(input.path, "/admin")
} else := {"allow": true, "code": "", "reason": ""} if {`)
	_, err := e.LoadBundle(ctx, bytes.NewReader(bundleOf(t, files, "paths")))
	require.NoError(t, err)
	require.NotZero(t, e.active.Load().edgeFields&fieldPath)
	d, err := e.DecideEdge(ctx, input())
	require.NoError(t, err)
	require.True(t, d.Allow)
	d, err = e.DecideEdge(ctx, input(func(in *EdgeInput) { in.Path = "/admin" }))
	require.NoError(t, err)
	assert.Equal(t, "no admin paths", d.Reason)

	// A policy that hands the whole input to a function is keyed on every field.
	files = replaceIn(t, defaultFiles(t), edgeRegoPath, `input.partner_status == "suspended"`, `suspended(input)`)
	files[edgeRegoPath].Data = append(files[edgeRegoPath].Data, "\nsuspended(x) if x.partner_status == \"suspended\"\n"...)
	_, err = e.LoadBundle(ctx, bytes.NewReader(bundleOf(t, files, "whole")))
	require.NoError(t, err)
	assert.Equal(t, allFields, e.active.Load().edgeFields)

	// A policy that asks the time cannot be cached at all.
	files = replaceIn(t, defaultFiles(t), edgeRegoPath, `input.partner_status == "suspended"`, `input.partner_status == "suspended"
	time.now_ns() > 0`)
	_, err = e.LoadBundle(ctx, bytes.NewReader(bundleOf(t, files, "clock")))
	require.NoError(t, err)
	assert.Nil(t, e.active.Load().cache)
	_, err = e.DecideEdge(ctx, input())
	require.NoError(t, err)
	assert.Zero(t, e.CachedDecisions())
}

func TestAppendKeyIsInjective(t *testing.T) {
	t.Parallel()
	a := input(func(in *EdgeInput) { in.Roles = []string{"a", "b"} })
	b := input(func(in *EdgeInput) { in.Roles = []string{"a\x01b"} })
	c := input(func(in *EdgeInput) { in.Route, in.Environment = "catalog.listlive", "" })
	seen := map[string]string{}
	for name, in := range map[string]EdgeInput{"a": a, "b": b, "c": c, "base": input()} {
		k := string(appendKey(nil, &in, allFields))
		other, dup := seen[k]
		require.False(t, dup, "%s and %s share a key", name, other)
		seen[k] = name
	}
}
