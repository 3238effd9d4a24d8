package apikey

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/steller/platform/contract/allowlist"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/input"
	"github.com/steller/platform/control-plane/rbac"
)

// Deps are what the key operations need.
type Deps struct {
	// Keys is the key service (required).
	Keys *Service
	// RBAC decides keys.read, keys.manage and admin.keys.manage (required).
	RBAC rbac.Checker
}

// CreatedKey is a new key with its secret, shown this once.
type CreatedKey struct {
	Key
	Secret string `json:"secret" doc:"The API key. It is shown only now: store it safely."`
}

// CreateKeyBody is a new key's settings.
type CreateKeyBody struct {
	_            struct{}   `additionalProperties:"false"`
	Name         string     `json:"name" minLength:"1" maxLength:"200" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]*$" patternDescription:"text without control characters" doc:"A name to recognise the key by."`
	Environment  string     `json:"environment" enum:"test,live" doc:"test reaches the sandbox; live needs live approval."`
	Roles        []Role     `json:"roles" nullable:"false" minItems:"1" maxItems:"6"`
	AllowedCIDRs []string   `json:"allowed_cidrs,omitempty" maxItems:"100" doc:"IPv4/IPv6 addresses or CIDR prefixes allowed to use the key; empty allows any."`
	ExpiresAt    *time.Time `json:"expires_at,omitempty" doc:"When the key stops working (in the future); none when absent."`
}

// TransformSchema states the allowlist entries' grammar (allowlist.Pattern).
func (CreateKeyBody) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	return cidrItems(s)
}

// TransformSchema states the allowlist entries' grammar (allowlist.Pattern).
func (AdminCreateKeyBody) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	return cidrItems(s)
}

// TransformSchema states the allowlist entries' grammar (allowlist.Pattern).
func (UpdateKeyBody) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	return cidrItems(s)
}

// cidrItems gives the items of s's allowed_cidrs the pattern validCIDRs enforces.
func cidrItems(s *huma.Schema) *huma.Schema {
	if p := s.Properties["allowed_cidrs"]; p != nil && p.Items != nil {
		p.Items.Pattern = allowlist.Pattern
		p.Items.PatternDescription = "an IPv4 or IPv6 address or CIDR prefix"
	}
	return s
}

func (b CreateKeyBody) settings() Settings {
	cidrs := b.AllowedCIDRs
	if cidrs == nil {
		cidrs = []string{}
	}
	return Settings{Name: b.Name, Environment: keyformat.Environment(b.Environment), Roles: roleStrings(b.Roles), AllowedCIDRs: cidrs, ExpiresAt: b.ExpiresAt}
}

type createInput struct {
	Body CreateKeyBody
}

type adminCreateInput struct {
	PartnerID string `path:"partnerId" maxLength:"64"`
	Body      AdminCreateKeyBody
}

// AdminCreateKeyBody is CreateKeyBody plus the workspace (Huma does not flatten an
// embedded body struct unless it is exported and untagged; spelled out for the docs).
type AdminCreateKeyBody struct {
	_            struct{}   `additionalProperties:"false"`
	Name         string     `json:"name" minLength:"1" maxLength:"200" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]*$" patternDescription:"text without control characters"`
	Environment  string     `json:"environment" enum:"test,live"`
	Roles        []Role     `json:"roles" nullable:"false" minItems:"1" maxItems:"6"`
	AllowedCIDRs []string   `json:"allowed_cidrs,omitempty" maxItems:"100" doc:"IPv4/IPv6 addresses or CIDR prefixes allowed to use the key; empty allows any."`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	WorkspaceID  string     `json:"workspace_id,omitempty" maxLength:"64" doc:"The partner's workspace; its first workspace when absent."`
}

type createOutput struct {
	Body CreatedKey
}

type listInput struct {
	Cursor string `query:"cursor" maxLength:"512" doc:"next_cursor of the previous page."`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

type listOutput struct {
	Body KeyList
}

// KeyList is one page of keys (its own named type: Huma names schemas by type, and every
// body type in the API must have a distinct name).
type KeyList struct {
	Keys       []Key  `json:"keys"`
	NextCursor string `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

type keyIDInput struct {
	KeyID string `path:"keyId" maxLength:"64"`
}

type keyOutput struct {
	Body Key
}

type updateInput struct {
	KeyID string `path:"keyId" maxLength:"64"`
	Body  UpdateKeyBody
}

// UpdateKeyBody is a partial key update; absent fields are kept.
type UpdateKeyBody struct {
	_            struct{} `additionalProperties:"false"`
	Name         *string  `json:"name,omitempty" minLength:"1" maxLength:"200" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]*$" patternDescription:"text without control characters"`
	Roles        []Role   `json:"roles,omitempty" minItems:"1" maxItems:"6"`
	AllowedCIDRs []string `json:"allowed_cidrs,omitempty" maxItems:"100" doc:"Replaces the list; [] allows any address."`
}

type rollInput struct {
	KeyID string `path:"keyId" maxLength:"64"`
	Body  *RollKeyBody
}

// RollKeyBody sets the rolled key's grace period.
type RollKeyBody struct {
	_           struct{}       `additionalProperties:"false"`
	GracePeriod input.Duration `json:"grace_period,omitempty" default:"24h" doc:"How long the old key keeps working, as a Go duration (24h, 90m); 0s stops it at once; at most 168h. Default 24h."`
}

type rollOutput struct {
	Body RolledKey
}

// RolledKey is the answer to a roll.
type RolledKey struct {
	Key      CreatedKey `json:"key" doc:"The new key, with its secret shown this once."`
	Previous Key        `json:"previous" doc:"The rolled key, now in its grace period."`
}

// Register adds the API key operations to api.
func Register(api huma.API, d Deps) {
	if d.Keys == nil || d.RBAC == nil {
		panic(errors.New("apikey.Register: Deps.Keys and Deps.RBAC are required"))
	}
	tags := []string{"API keys"}
	huma.Register(api, huma.Operation{
		OperationID: "create-key", Method: http.MethodPost, Path: "/v1/keys", Tags: tags,
		Summary: "Create an API key", DefaultStatus: http.StatusCreated,
		Description: "Creates a test or live key. The secret is in this response only; Steller keeps just its hash.",
	}, func(ctx context.Context, in *createInput) (*createOutput, error) {
		p, err := rbac.Authorize(ctx, d.RBAC, rbac.KeysManage)
		if err != nil {
			return nil, err
		}
		c, err := d.Keys.Create(ctx, p, in.Body.settings())
		if err != nil {
			return nil, err
		}
		return &createOutput{Body: CreatedKey{Key: c.Key, Secret: c.Secret}}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-keys", Method: http.MethodGet, Path: "/v1/keys", Tags: tags,
		Summary: "List API keys", Description: "The workspace's keys, newest first.",
	}, func(ctx context.Context, in *listInput) (*listOutput, error) {
		p, err := rbac.Authorize(ctx, d.RBAC, rbac.KeysRead)
		if err != nil {
			return nil, err
		}
		page, err := d.Keys.List(ctx, p, in.Cursor, in.Limit)
		if err != nil {
			return nil, err
		}
		out := &listOutput{}
		out.Body.Keys, out.Body.NextCursor = page.Keys, page.NextCursor
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-key", Method: http.MethodGet, Path: "/v1/keys/{keyId}", Tags: tags, Summary: "Get an API key",
	}, func(ctx context.Context, in *keyIDInput) (*keyOutput, error) {
		p, err := rbac.Authorize(ctx, d.RBAC, rbac.KeysRead)
		if err != nil {
			return nil, err
		}
		k, err := d.Keys.Get(ctx, p, in.KeyID)
		if err != nil {
			return nil, err
		}
		return &keyOutput{Body: k}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "update-key", Method: http.MethodPatch, Path: "/v1/keys/{keyId}", Tags: tags,
		Summary: "Update an API key", Description: "Changes the name, roles or allowed addresses; edges apply it within a second.",
	}, func(ctx context.Context, in *updateInput) (*keyOutput, error) {
		p, err := rbac.Authorize(ctx, d.RBAC, rbac.KeysManage)
		if err != nil {
			return nil, err
		}
		ch := Change{Name: in.Body.Name, AllowedCIDRs: in.Body.AllowedCIDRs}
		if in.Body.Roles != nil {
			ch.Roles = roleStrings(in.Body.Roles)
		}
		k, err := d.Keys.Update(ctx, p, in.KeyID, ch)
		if err != nil {
			return nil, err
		}
		return &keyOutput{Body: k}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "roll-key", Method: http.MethodPost, Path: "/v1/keys/{keyId}/roll", Tags: tags,
		Summary: "Roll an API key", Description: "Issues a new secret with the same settings; the old one works until its grace period ends.",
	}, func(ctx context.Context, in *rollInput) (*rollOutput, error) {
		p, err := rbac.Authorize(ctx, d.RBAC, rbac.KeysManage)
		if err != nil {
			return nil, err
		}
		var raw input.Duration
		if in.Body != nil {
			raw = in.Body.GracePeriod
		}
		grace, err := raw.Parse("body.grace_period", DefaultGrace)
		if err != nil {
			return nil, err
		}
		r, err := d.Keys.Roll(ctx, p, in.KeyID, grace)
		if err != nil {
			return nil, err
		}
		out := &rollOutput{}
		out.Body.Key, out.Body.Previous = CreatedKey{Key: r.New.Key, Secret: r.New.Secret}, r.Old
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "revoke-key", Method: http.MethodPost, Path: "/v1/keys/{keyId}/revoke", Tags: tags,
		Summary: "Revoke an API key", Description: "Stops the key at every edge within about a second.",
	}, func(ctx context.Context, in *keyIDInput) (*keyOutput, error) {
		p, err := rbac.Authorize(ctx, d.RBAC, rbac.KeysManage)
		if err != nil {
			return nil, err
		}
		k, err := d.Keys.Revoke(ctx, p, in.KeyID)
		if err != nil {
			return nil, err
		}
		return &keyOutput{Body: k}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-create-partner-key", Method: http.MethodPost, Path: "/v1/admin/partners/{partnerId}/keys",
		Tags: []string{"Admin"}, Summary: "Create an API key for a partner", DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *adminCreateInput) (*createOutput, error) {
		p, err := rbac.Authorize(ctx, d.RBAC, rbac.AdminKeysManage)
		if err != nil {
			return nil, err
		}
		b := in.Body
		body := CreateKeyBody{Name: b.Name, Environment: b.Environment, Roles: b.Roles, AllowedCIDRs: b.AllowedCIDRs, ExpiresAt: b.ExpiresAt}
		c, err := d.Keys.CreateForPartner(ctx, p, in.PartnerID, b.WorkspaceID, body.settings())
		if err != nil {
			return nil, err
		}
		return &createOutput{Body: CreatedKey{Key: c.Key, Secret: c.Secret}}, nil
	})
}
