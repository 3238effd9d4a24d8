package policy

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/rbac"
)

// Deps are what Register needs.
type Deps struct {
	// Service manages the versions. Required.
	Service *Service
	// Checker decides admin.policies.read and admin.policies.manage. Required.
	Checker rbac.Checker
}

// UploadVersionRequest is the JSON form of an upload: the bundle's files by path.
type UploadVersionRequest struct {
	Description string            `json:"description,omitempty" maxLength:"500" doc:"What this version changes."`
	Files       map[string]string `json:"files" minProperties:"1" maxProperties:"500" doc:"Files by bundle path: .rego modules (with their _test.rego tests), data.json documents, optionally a root .manifest. Example key: steller/edge/edge.rego."`
}

// ActivationRequest is the body of an activation or rollback.
type ActivationRequest struct {
	Reason string `json:"reason" minLength:"1" maxLength:"500" doc:"Why, for the audit trail."`
}

type versionPath struct {
	VersionID int64 `path:"versionId" minimum:"1" doc:"Policy version id."`
}

type pageQuery struct {
	Cursor string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page."`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
}

type uploadInput struct {
	Description string `query:"description" maxLength:"500" doc:"Description of a raw bundle upload (the JSON form carries its own)."`
	ContentType string `header:"Content-Type"`
	RawBody     []byte `contentType:"application/gzip"`
}

type getInput struct {
	VersionID int64 `path:"versionId" minimum:"1" doc:"Policy version id."`
	Sources   bool  `query:"sources" doc:"Include each file's source."`
}

type activateInput struct {
	VersionID int64 `path:"versionId" minimum:"1" doc:"Policy version id."`
	Body      ActivationRequest
}

type rollbackInput struct {
	Body ActivationRequest
}

type versionOutput struct {
	Body Version
}

type detailOutput struct {
	Body VersionDetail
}

type activationOutput struct {
	Body Activation
}

type activeOutput struct {
	Body ActiveState
}

// VersionPage is a page of versions.
type VersionPage struct {
	Items      []Version `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

// ActivationPage is a page of the activation trail.
type ActivationPage struct {
	Items      []Activation `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

type versionPageOutput struct {
	Body VersionPage
}

type activationPageOutput struct {
	Body ActivationPage
}

const tag = "Policies"

// dotStandIn replaces '.' in file paths while Huma validates them (see decodeUpload).
const dotStandIn = "\x00"

type handlers struct {
	svc     *Service
	checker rbac.Checker
	// uploadSchema validates the JSON form of an upload, which the handler decodes itself
	// because the same operation also takes a raw tar.gz body.
	uploadSchema *huma.Schema
	registry     huma.Registry
}

// Register adds the policy operations under /v1/admin/policies to api. It panics when a
// dependency is missing, as a wiring mistake at start-up.
func Register(api huma.API, deps Deps) {
	if deps.Service == nil || deps.Checker == nil {
		panic("policy: Register needs Deps.Service and Deps.Checker")
	}
	reg := api.OpenAPI().Components.Schemas
	uploadType := reflect.TypeFor[UploadVersionRequest]()
	h := &handlers{
		svc: deps.Service, checker: deps.Checker, registry: reg,
		uploadSchema: reg.Schema(uploadType, false, "UploadVersionRequest"),
	}
	// Fixed paths first: some routers match in registration order, and "active" is no id.
	huma.Register(api, huma.Operation{
		OperationID: "get-active-policy", Method: http.MethodGet, Path: "/v1/admin/policies/active",
		Summary: "Show the policy edges are served", Tags: []string{tag},
		Description: "The active version and its activation, or the embedded default when no version was ever activated.",
	}, h.active)
	huma.Register(api, huma.Operation{
		OperationID: "list-policy-activations", Method: http.MethodGet, Path: "/v1/admin/policies/activations",
		Summary: "List the activation trail", Tags: []string{tag},
		Description: "Every activation and rollback, newest first; the first is the active version.",
	}, h.listActivations)
	huma.Register(api, huma.Operation{
		OperationID: "rollback-policy", Method: http.MethodPost, Path: "/v1/admin/policies/rollback",
		Summary: "Roll back to the previous policy version", Tags: []string{tag},
		Description: "Re-activates the version active before the current activation (a stack: repeated rollbacks walk further back). 409 when there is nothing to go back to.",
	}, h.rollback)
	huma.Register(api, huma.Operation{
		OperationID: "list-policy-versions", Method: http.MethodGet, Path: "/v1/admin/policies",
		Summary: "List policy versions", Tags: []string{tag},
		Description: "Versions newest first, each saying whether it is active.",
	}, h.list)
	huma.Register(api, huma.Operation{
		OperationID: "upload-policy-version", Method: http.MethodPost, Path: "/v1/admin/policies",
		Summary: "Upload a policy version", Tags: []string{tag}, DefaultStatus: http.StatusCreated,
		MaxBodyBytes: deps.Service.MaxUploadBytes(), BodyReadTimeout: 30 * time.Second,
		// Either form is read into RawBody; the handler validates the JSON form against
		// UploadVersionRequest itself.
		SkipValidateBody: true,
		RequestBody: &huma.RequestBody{Content: map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(uploadType, true, "UploadVersionRequest")},
		}},
		Description: "Send JSON {description, files} or an OPA bundle as application/gzip (description in the query). " +
			"The version is validated at once (Rego tests, compilation, edge decision): status says valid or invalid, " +
			"with validation_error. Input that is no policy tree is a 422 and nothing is stored.",
	}, h.upload)
	huma.Register(api, huma.Operation{
		OperationID: "get-policy-version", Method: http.MethodGet, Path: "/v1/admin/policies/{versionId}",
		Summary: "Show a policy version and its files", Tags: []string{tag},
	}, h.get)
	huma.Register(api, huma.Operation{
		OperationID: "validate-policy-version", Method: http.MethodPost, Path: "/v1/admin/policies/{versionId}/validate",
		Summary: "Validate a policy version again", Tags: []string{tag},
		Description: "Compiles the bundle and runs its Rego tests, and records the status. An active version stays active whatever the outcome.",
	}, h.validate)
	huma.Register(api, huma.Operation{
		OperationID: "activate-policy-version", Method: http.MethodPost, Path: "/v1/admin/policies/{versionId}/activate",
		Summary: "Activate a policy version", Tags: []string{tag},
		Description: "Makes a valid version the one edges load. 409 for an invalid version or the one already active.",
	}, h.activate)
}

// authorize demands a principal allowed to perform action.
func (h *handlers) authorize(ctx context.Context, action string) (auth.Principal, error) {
	return rbac.Authorize(ctx, h.checker, action)
}

func (h *handlers) upload(ctx context.Context, in *uploadInput) (*versionOutput, error) {
	p, err := h.authorize(ctx, rbac.AdminPoliciesManage)
	if err != nil {
		return nil, err
	}
	ct := "application/json"
	if in.ContentType != "" {
		if ct, _, err = mime.ParseMediaType(in.ContentType); err != nil {
			return nil, huma.Error415UnsupportedMediaType("unreadable Content-Type: send application/json or application/gzip")
		}
	}
	var v Version
	switch ct {
	case "application/json":
		req, perr := h.decodeUpload(in.RawBody)
		if perr != nil {
			return nil, perr
		}
		v, err = h.svc.UploadSources(ctx, p, req.Description, req.Files)
	case "application/gzip", "application/x-gzip":
		v, err = h.svc.UploadBundle(ctx, p, in.Description, in.RawBody)
	default:
		return nil, huma.Error415UnsupportedMediaType("send application/json {description, files} or an OPA bundle as application/gzip")
	}
	if err != nil {
		return nil, err
	}
	return &versionOutput{Body: v}, nil
}

// decodeUpload parses and validates the JSON form exactly as Huma does for a typed body:
// 400 for malformed JSON, 422 with field paths for schema violations (unknown fields too).
func (h *handlers) decodeUpload(raw []byte) (UploadVersionRequest, error) {
	var parsed any
	if err := json.Unmarshal(raw, &parsed); err != nil {
		return UploadVersionRequest{}, huma.Error400BadRequest("malformed JSON body",
			&huma.ErrorDetail{Location: "body", Message: err.Error()})
	}
	// Huma's PathBuffer pops back to the last '.', so file paths used as map keys
	// ("a/b.rego") would corrupt the locations of later errors: validate with their dots
	// stood in for, then put the dots and the original map back.
	obj, _ := parsed.(map[string]any)
	files, _ := obj["files"].(map[string]any)
	if files != nil {
		swapped := make(map[string]any, len(files))
		for k, v := range files {
			swapped[strings.ReplaceAll(k, ".", dotStandIn)] = v
		}
		obj["files"] = swapped
	}
	res := &huma.ValidateResult{}
	pb := huma.NewPathBuffer(make([]byte, 0, 128), 0)
	pb.Push("body")
	huma.Validate(h.registry, h.uploadSchema, pb, huma.ModeWriteToServer, parsed, res)
	if files != nil {
		obj["files"] = files
	}
	for _, e := range res.Errors {
		if d, ok := e.(*huma.ErrorDetail); ok {
			d.Location = strings.ReplaceAll(d.Location, dotStandIn, ".")
		}
	}
	if len(res.Errors) > 0 {
		return UploadVersionRequest{}, huma.Error422UnprocessableEntity("validation failed", res.Errors...)
	}
	var req UploadVersionRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return UploadVersionRequest{}, huma.Error422UnprocessableEntity("validation failed",
			&huma.ErrorDetail{Location: "body", Message: err.Error()})
	}
	return req, nil
}

func (h *handlers) list(ctx context.Context, in *pageQuery) (*versionPageOutput, error) {
	if _, err := h.authorize(ctx, rbac.AdminPoliciesRead); err != nil {
		return nil, err
	}
	items, next, err := h.svc.List(ctx, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &versionPageOutput{Body: VersionPage{Items: items, NextCursor: next}}, nil
}

func (h *handlers) listActivations(ctx context.Context, in *pageQuery) (*activationPageOutput, error) {
	if _, err := h.authorize(ctx, rbac.AdminPoliciesRead); err != nil {
		return nil, err
	}
	items, next, err := h.svc.Activations(ctx, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &activationPageOutput{Body: ActivationPage{Items: items, NextCursor: next}}, nil
}

func (h *handlers) get(ctx context.Context, in *getInput) (*detailOutput, error) {
	if _, err := h.authorize(ctx, rbac.AdminPoliciesRead); err != nil {
		return nil, err
	}
	d, err := h.svc.Get(ctx, in.VersionID, in.Sources)
	if err != nil {
		return nil, err
	}
	return &detailOutput{Body: d}, nil
}

func (h *handlers) active(ctx context.Context, _ *struct{}) (*activeOutput, error) {
	if _, err := h.authorize(ctx, rbac.AdminPoliciesRead); err != nil {
		return nil, err
	}
	st, err := h.svc.Active(ctx)
	if err != nil {
		return nil, err
	}
	return &activeOutput{Body: st}, nil
}

func (h *handlers) validate(ctx context.Context, in *versionPath) (*versionOutput, error) {
	p, err := h.authorize(ctx, rbac.AdminPoliciesManage)
	if err != nil {
		return nil, err
	}
	v, err := h.svc.Validate(ctx, p, in.VersionID)
	if err != nil {
		return nil, err
	}
	return &versionOutput{Body: v}, nil
}

func (h *handlers) activate(ctx context.Context, in *activateInput) (*activationOutput, error) {
	p, err := h.authorize(ctx, rbac.AdminPoliciesManage)
	if err != nil {
		return nil, err
	}
	a, err := h.svc.Activate(ctx, p, in.VersionID, in.Body.Reason)
	if err != nil {
		return nil, err
	}
	return &activationOutput{Body: a}, nil
}

func (h *handlers) rollback(ctx context.Context, in *rollbackInput) (*activationOutput, error) {
	p, err := h.authorize(ctx, rbac.AdminPoliciesManage)
	if err != nil {
		return nil, err
	}
	a, err := h.svc.Rollback(ctx, p, in.Body.Reason)
	if err != nil {
		return nil, err
	}
	return &activationOutput{Body: a}, nil
}
