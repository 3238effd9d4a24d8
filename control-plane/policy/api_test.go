package policy_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/policy"
	"github.com/steller/platform/policies"
)

func TestUploadValidatesAtOnceAndAuditsBoth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		files     func(*testing.T) map[string]string
		raw       bool
		status    policy.Status
		errSubstr string
	}{
		{name: "default policy as JSON", files: defaultFiles, status: policy.StatusValid},
		{name: "default policy as tar.gz", files: defaultFiles, raw: true, status: policy.StatusValid},
		{name: "deny settlements", files: denySettlementsFiles, status: policy.StatusValid},
		{name: "rego syntax error", files: syntaxErrorFiles, status: policy.StatusInvalid, errSubstr: "rego_parse_error"},
		{name: "rego syntax error as tar.gz", files: syntaxErrorFiles, raw: true, status: policy.StatusInvalid, errSubstr: "rego_parse_error"},
		{name: "failing rego test", files: failingTestFiles, status: policy.StatusInvalid, errSubstr: "test_one_is_two"},
		{name: "no edge decision", files: noDecisionFiles, status: policy.StatusInvalid, errSubstr: "data.steller.edge.decision"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			files := tc.files(t)
			var v policy.Version
			if tc.raw {
				resp := e.api.Post("/v1/admin/policies?description=from+CI", asAdmin, "Content-Type: application/gzip",
					bytes.NewReader(rawBundle(t, files)))
				require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
				v = decode[policy.Version](t, resp)
			} else {
				v = upload(t, e, "from CI", files)
			}
			assert.Equal(t, tc.status, v.Status)
			assert.Equal(t, "from CI", v.Description)
			assert.Equal(t, "adm_ops", v.CreatedBy)
			assert.Equal(t, fmt.Sprintf("policy-%d", v.ID), v.Revision)
			assert.Len(t, v.Digest, 64)
			assert.NotNil(t, v.ValidatedAt)
			assert.False(t, v.Active)
			if tc.status == policy.StatusValid {
				assert.Empty(t, v.ValidationError)
				assert.Positive(t, v.RegoTests)
			} else {
				assert.Contains(t, v.ValidationError, tc.errSubstr)
				assert.Zero(t, v.RegoTests)
			}

			trail := auditTrail(t, e.pool)
			require.Equal(t, []string{policy.AuditUploaded, policy.AuditValidated}, actions(trail))
			for _, r := range trail {
				assert.Equal(t, "admin", r.ActorKind)
				assert.Equal(t, "adm_ops", r.ActorID)
				assert.Equal(t, strconv.FormatInt(v.ID, 10), r.Target)
			}
			assert.Equal(t, v.Digest, trail[0].Details["digest"])
			assert.Equal(t, string(tc.status), trail[1].Details["status"])
		})
	}
}

// rawBundle is files as a tar.gz: an OPA bundle when they parse, else a plain archive of
// the files, as `tar czf` would make it.
func rawBundle(t *testing.T, files map[string]string) []byte {
	t.Helper()
	mfs := fstest.MapFS{}
	var headers []*tar.Header
	var contents [][]byte
	for p, src := range files {
		mfs[p] = &fstest.MapFile{Data: []byte(src)}
		headers = append(headers, &tar.Header{Name: "./" + p, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(src))})
		contents = append(contents, []byte(src))
	}
	var buf bytes.Buffer
	if err := policies.WriteBundle(&buf, mfs, "ci-build-1"); err == nil {
		return buf.Bytes()
	}
	return tarGzWith(t, headers, contents)
}

func TestInvalidVersionCannotBeActivatedOrServed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	good := upload(t, e, "good", defaultFiles(t))
	require.Equal(t, http.StatusOK, activate(t, e, good.ID, "baseline").Code)
	for _, files := range []map[string]string{syntaxErrorFiles(t), failingTestFiles(t), noDecisionFiles(t)} {
		bad := upload(t, e, "bad", files)
		require.Equal(t, policy.StatusInvalid, bad.Status)
		resp := activate(t, e, bad.ID, "try it")
		assert.Equal(t, http.StatusConflict, resp.Code, resp.Body.String())
		assert.Contains(t, resp.Body.String(), "only a valid version can be activated")
	}
	state := decode[policy.ActiveState](t, e.api.Get("/v1/admin/policies/active", asAdmin))
	require.NotNil(t, state.Version)
	assert.Equal(t, good.ID, state.Version.ID)
	assert.Equal(t, `"`+good.Digest+`"`, fetchBundle(t, e.bundles, "").Header().Get("ETag"))
	assert.Equal(t, 1, count(t, e.pool, "policy_activations"))
}

func TestActivateAndRollbackWalkBackTheTrail(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := upload(t, e, "A", defaultFiles(t))
	b := upload(t, e, "B", denySettlementsFiles(t))
	c := upload(t, e, "C", defaultFiles(t))

	// Nothing activated yet: the default is served and there is nothing to roll back.
	state := decode[policy.ActiveState](t, e.api.Get("/v1/admin/policies/active", asAdmin))
	assert.Equal(t, "default", state.Source)
	assert.Equal(t, policies.DefaultRevision(), state.Revision)
	resp := e.api.Post("/v1/admin/policies/rollback", asAdmin, map[string]any{"reason": "oops"})
	assert.Equal(t, http.StatusConflict, resp.Code, resp.Body.String())

	for _, v := range []policy.Version{a, b, c} {
		resp := activate(t, e, v.ID, "ship "+v.Description)
		require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
		act := decode[policy.Activation](t, resp)
		assert.Equal(t, v.ID, act.VersionID)
		assert.Equal(t, policy.KindActivate, act.Kind)
		assert.Equal(t, "adm_ops", act.ActivatedBy)
	}
	resp = activate(t, e, c.ID, "again")
	assert.Equal(t, http.StatusConflict, resp.Code, "activating the active version")
	assert.Equal(t, http.StatusNotFound, activate(t, e, 999999, "ghost").Code)

	wantActive := func(v policy.Version) {
		t.Helper()
		state := decode[policy.ActiveState](t, e.api.Get("/v1/admin/policies/active", asAdmin))
		require.Equal(t, "version", state.Source)
		require.NotNil(t, state.Version)
		assert.Equal(t, v.ID, state.Version.ID)
		assert.True(t, state.Version.Active)
		assert.Equal(t, `"`+v.Digest+`"`, state.ETag)
		assert.Equal(t, state.ETag, fetchBundle(t, e.bundles, "").Header().Get("ETag"), "bundle server refreshed on activation")
	}
	wantActive(c)

	// Rollbacks walk back like a stack: C -> B -> A, then nothing is left.
	for _, want := range []policy.Version{b, a} {
		resp := e.api.Post("/v1/admin/policies/rollback", asAdmin, map[string]any{"reason": "bad deploy"})
		require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
		act := decode[policy.Activation](t, resp)
		assert.Equal(t, want.ID, act.VersionID)
		assert.Equal(t, policy.KindRollback, act.Kind)
		assert.Equal(t, "bad deploy", act.Reason)
		wantActive(want)
	}
	resp = e.api.Post("/v1/admin/policies/rollback", asAdmin, map[string]any{"reason": "more"})
	assert.Equal(t, http.StatusConflict, resp.Code, resp.Body.String())
	assert.Contains(t, resp.Body.String(), "no earlier version")

	// The trail lists every activation and rollback, newest first.
	page := decode[policy.ActivationPage](t, e.api.Get("/v1/admin/policies/activations", asAdmin))
	var got []string
	for _, act := range page.Items {
		got = append(got, fmt.Sprintf("%s %d", act.Kind, act.VersionID))
	}
	assert.Equal(t, []string{
		fmt.Sprintf("rollback %d", a.ID), fmt.Sprintf("rollback %d", b.ID),
		fmt.Sprintf("activate %d", c.ID), fmt.Sprintf("activate %d", b.ID), fmt.Sprintf("activate %d", a.ID),
	}, got)

	var trail []auditRow
	for _, r := range auditTrail(t, e.pool) {
		if r.Action == policy.AuditActivated || r.Action == policy.AuditRolledBack {
			trail = append(trail, r)
		}
	}
	require.Len(t, trail, 5)
	assert.Equal(t, []string{policy.AuditActivated, policy.AuditActivated, policy.AuditActivated,
		policy.AuditRolledBack, policy.AuditRolledBack}, actions(trail))
	assert.Equal(t, strconv.FormatInt(a.ID, 10), trail[0].Target)
	assert.Equal(t, "ship A", trail[0].Details["reason"])
	assert.NotContains(t, trail[0].Details, "previous_version_id")
	assert.EqualValues(t, a.ID, trail[1].Details["previous_version_id"])
	assert.Equal(t, strconv.FormatInt(b.ID, 10), trail[3].Target)
	assert.EqualValues(t, c.ID, trail[3].Details["from_version_id"])
	assert.Equal(t, "bad deploy", trail[3].Details["reason"])
	for _, r := range trail {
		assert.Equal(t, "adm_ops", r.ActorID)
	}
}

func TestConcurrentActivationsFormOneChain(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const n = 8
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = upload(t, e, fmt.Sprintf("v%d", i), defaultFiles(t)).ID
	}
	admin := principals["admin"]
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.svc.Activate(context.Background(), admin, id, "race")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	page, _, err := e.svc.Activations(context.Background(), "", 50)
	require.NoError(t, err)
	require.Len(t, page, n)
	// Newest first: each activation must point at the one committed just before it.
	for i := 0; i < n-1; i++ {
		require.NotNil(t, page[i].PreviousID, "activation %d", page[i].ID)
		assert.Equal(t, page[i+1].ID, *page[i].PreviousID, "activation %d links past its predecessor", page[i].ID)
	}
	assert.Nil(t, page[n-1].PreviousID)
}

func TestListPaginatesNewestFirstAndMarksTheActiveVersion(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var ids []int64
	for i := range 3 {
		ids = append(ids, upload(t, e, fmt.Sprintf("v%d", i), defaultFiles(t)).ID)
	}
	require.Equal(t, http.StatusOK, activate(t, e, ids[1], "middle").Code)

	first := decode[policy.VersionPage](t, e.api.Get("/v1/admin/policies?limit=2", asAdmin))
	require.Len(t, first.Items, 2)
	require.NotEmpty(t, first.NextCursor)
	second := decode[policy.VersionPage](t, e.api.Get("/v1/admin/policies?limit=2&cursor="+first.NextCursor, asAdmin))
	require.Len(t, second.Items, 1)
	assert.Empty(t, second.NextCursor)

	all := append(first.Items, second.Items...)
	assert.Equal(t, []int64{ids[2], ids[1], ids[0]}, []int64{all[0].ID, all[1].ID, all[2].ID})
	assert.Equal(t, []bool{false, true, false}, []bool{all[0].Active, all[1].Active, all[2].Active})

	whole := decode[policy.VersionPage](t, e.api.Get("/v1/admin/policies", asAdmin))
	assert.Len(t, whole.Items, 3, "default limit covers all")

	for _, q := range []string{"cursor=bm90LWEtY3Vyc29y", "cursor=%21%21", "cursor=djE6LTE", "limit=0", "limit=201"} {
		resp := e.api.Get("/v1/admin/policies?"+q, asAdmin)
		assert.Equal(t, http.StatusUnprocessableEntity, resp.Code, "%s: %s", q, resp.Body.String())
	}
	resp := e.api.Get("/v1/admin/policies/activations?cursor=bm9wZQ", asAdmin)
	assert.Equal(t, http.StatusUnprocessableEntity, resp.Code)
	assert.Contains(t, resp.Body.String(), "query.cursor")
}

func TestGetShowsFilesAndOptionallySources(t *testing.T) {
	t.Parallel()
	e := setup(t)
	v := upload(t, e, "default", defaultFiles(t))
	bad := upload(t, e, "broken", syntaxErrorFiles(t))

	d := decode[policy.VersionDetail](t, e.api.Get(fmt.Sprintf("/v1/admin/policies/%d", v.ID), asAdmin))
	assert.Equal(t, v.ID, d.ID)
	assert.Equal(t, policy.StatusValid, d.Status)
	paths := map[string]policy.BundleFile{}
	for _, f := range d.Files {
		paths[f.Path] = f
		assert.Empty(t, f.Source)
	}
	assert.Contains(t, paths, "steller/edge/edge.rego")
	assert.Contains(t, paths, ".manifest")
	assert.Positive(t, paths["steller/edge/edge.rego"].SizeBytes)

	d = decode[policy.VersionDetail](t, e.api.Get(fmt.Sprintf("/v1/admin/policies/%d?sources=true", v.ID), asAdmin))
	for _, f := range d.Files {
		if f.Path == ".manifest" {
			assert.Contains(t, f.Source, fmt.Sprintf(`"revision":"policy-%d"`, v.ID))
		}
		if f.Path == "steller/edge/edge.rego" {
			assert.Equal(t, defaultFiles(t)["steller/edge/edge.rego"], f.Source)
		}
	}

	// A version that does not parse keeps its sources readable.
	d = decode[policy.VersionDetail](t, e.api.Get(fmt.Sprintf("/v1/admin/policies/%d?sources=true", bad.ID), asAdmin))
	assert.Equal(t, policy.StatusInvalid, d.Status)
	var broken string
	for _, f := range d.Files {
		if f.Path == "steller/edge/edge.rego" {
			broken = f.Source
		}
	}
	assert.Equal(t, "package steller.edge\n\ndecision := {\n", broken)

	assert.Equal(t, http.StatusNotFound, e.api.Get("/v1/admin/policies/424242", asAdmin).Code)
	assert.Equal(t, http.StatusUnprocessableEntity, e.api.Get("/v1/admin/policies/abc", asAdmin).Code)
	assert.Equal(t, http.StatusUnprocessableEntity, e.api.Get("/v1/admin/policies/0", asAdmin).Code)
}

func TestValidateRecordsTheOutcomeAgain(t *testing.T) {
	t.Parallel()
	e := setup(t)
	v := upload(t, e, "default", defaultFiles(t))
	bad := upload(t, e, "broken", failingTestFiles(t))
	// Pretend the good one was marked invalid (say, by an older engine): validation fixes it.
	_, err := e.pool.Exec(context.Background(),
		`UPDATE policy_versions SET status = 'invalid', validation_error = 'stale' WHERE id = $1`, v.ID)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, activate(t, e, v.ID, "too early").Code)

	resp := e.api.Post(fmt.Sprintf("/v1/admin/policies/%d/validate", v.ID), asAdmin)
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	got := decode[policy.Version](t, resp)
	assert.Equal(t, policy.StatusValid, got.Status)
	assert.Empty(t, got.ValidationError)
	assert.Positive(t, got.RegoTests)
	assert.Equal(t, http.StatusOK, activate(t, e, v.ID, "now valid").Code)

	resp = e.api.Post(fmt.Sprintf("/v1/admin/policies/%d/validate", bad.ID), asAdmin)
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	got = decode[policy.Version](t, resp)
	assert.Equal(t, policy.StatusInvalid, got.Status)
	assert.Contains(t, got.ValidationError, "test_one_is_two")

	assert.Equal(t, http.StatusNotFound, e.api.Post("/v1/admin/policies/777777/validate", asAdmin).Code)

	var validated []auditRow
	for _, r := range auditTrail(t, e.pool) {
		if r.Action == policy.AuditValidated {
			validated = append(validated, r)
		}
	}
	require.Len(t, validated, 4, "two uploads and two validations")
	assert.Equal(t, strconv.FormatInt(v.ID, 10), validated[2].Target)
	assert.Equal(t, "valid", validated[2].Details["status"])
	assert.Equal(t, "invalid", validated[3].Details["status"])
	assert.Contains(t, validated[3].Details["error"], "test_one_is_two")
}

func TestOpenAPIDescribesBothUploadForms(t *testing.T) {
	t.Parallel()
	e := setup(t)
	doc := e.api.OpenAPI()
	ids := map[string]bool{}
	for _, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post} {
			if op != nil {
				ids[op.OperationID] = true
			}
		}
	}
	for _, id := range []string{"list-policy-versions", "upload-policy-version", "get-policy-version",
		"validate-policy-version", "activate-policy-version", "rollback-policy", "get-active-policy",
		"list-policy-activations"} {
		assert.True(t, ids[id], id)
	}
	up := doc.Paths["/v1/admin/policies"].Post
	require.NotNil(t, up)
	assert.Contains(t, up.RequestBody.Content, "application/json")
	assert.Contains(t, up.RequestBody.Content, "application/gzip")
	schema := doc.Components.Schemas.Map()["UploadVersionRequest"]
	require.NotNil(t, schema)
	assert.Equal(t, false, schema.AdditionalProperties, "unknown fields are refused")
	assert.Contains(t, schema.Required, "files")
}

// TestAForbiddenBuiltinIsRefusedAtUpload: a policy calling http.send to the cloud metadata
// address is a 422 that names the builtin and the file, as JSON or as a bundle, and nothing
// is stored.
func TestAForbiddenBuiltinIsRefusedAtUpload(t *testing.T) {
	t.Parallel()
	e := setup(t)
	files := defaultFiles(t)
	files["steller/edge/edge.rego"] += "\nmetadata := http.send({\"method\": \"GET\", \"url\": \"http://169.254.169.254/latest/meta-data/\"})\n"
	var before int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM policy_versions`).Scan(&before))
	for _, raw := range []bool{false, true} {
		var resp *httptest.ResponseRecorder
		if raw {
			resp = e.api.Post("/v1/admin/policies", asAdmin, "Content-Type: application/gzip", bytes.NewReader(rawBundle(t, files)))
		} else {
			resp = e.api.Post("/v1/admin/policies", asAdmin, map[string]any{"files": files})
		}
		require.Equal(t, http.StatusUnprocessableEntity, resp.Code, resp.Body.String())
		body := resp.Body.String()
		assert.Contains(t, body, "http.send")
		assert.Contains(t, body, "steller/edge/edge.rego")
		if !raw {
			assert.Contains(t, body, `"location":"body.files.steller/edge/edge.rego"`)
		}
	}
	var after int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM policy_versions`).Scan(&after))
	assert.Equal(t, before, after, "nothing stored")
}
