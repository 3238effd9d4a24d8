package sandbox

import (
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/control-plane/ident"
)

// CatalogPage is the body of GET /v1/catalog.
type CatalogPage struct {
	// Products are every product that can be ordered.
	Products []Product `json:"products" nullable:"false" doc:"Every product that can be ordered."`
}

// Balance is the body of GET /v1/balance.
type Balance struct {
	// BalanceCents is what is left to spend, in cents.
	BalanceCents int64 `json:"balance_cents" minimum:"0" doc:"What is left to spend, in cents."`
	// Currency is Currency.
	Currency string `json:"currency" enum:"USD" doc:"ISO 4217 currency code."`
}

// operation is one route of the partner API: the handler that serves it and what the
// OpenAPI document says of it, in one entry so the routes and the document cannot drift.
type operation struct {
	// id is the operation id: the edge's route name (edge.DefaultRoutes).
	id           string
	method, path string
	serve        func(*Vendor, http.ResponseWriter, *http.Request, caller)
	summary      string
	description  string
	// body is the request body's type, or nil.
	body any
	// ok maps each success status to its body's type.
	ok map[int]any
	// problems are the codes the vendor's handler answers for this operation beyond the
	// edge's denials and internal_error.
	problems []string
}

// operations are the partner API. Vendor.routes serves them and PartnerOpenAPI documents
// them.
var operations = []operation{
	{
		id: "catalog.list", method: http.MethodGet, path: "/v1/catalog", serve: (*Vendor).getCatalog,
		summary:     "List the catalog",
		description: "Every product that can be ordered: fixed denominations or a range of amounts, in cents.",
		ok:          map[int]any{http.StatusOK: CatalogPage{}},
	},
	{
		id: "orders.create", method: http.MethodPost, path: "/v1/orders", serve: (*Vendor).createOrder,
		summary: "Order a gift card",
		description: "Creates an order, paid from the balance at once, that finishes on its own: `pending`, then " +
			"`completed` with a card or `failed` and refunded. Send an `Idempotency-Key`: the same key with the same " +
			"body answers `200` with the original order's current state and `Idempotent-Replayed: true`; with " +
			"another body it answers `422 idempotency_key_reused`. A refused request stores nothing.\n\n" +
			"Sandbox magic values (test keys): `amount_cents: 13` fails with `vendor_out_of_stock`, " +
			"`amount_cents: 42` fails with `vendor_timeout` after the timeout delay (both for any product, " +
			"refunded), and product `" + ProductInsufficient + "` is always refused with `402 insufficient_balance`. " +
			"Live keys have no magic values: 13 and 42 are ordinary amounts there.",
		body:     OrderRequest{},
		ok:       map[int]any{http.StatusCreated: Order{}, http.StatusOK: Order{}},
		problems: []string{codeIdempotencyKey, codeInsufficient, codeValidation, codeKeyReused},
	},
	{
		id: "orders.get", method: http.MethodGet, path: "/v1/orders/{id}", serve: (*Vendor).getOrder,
		summary:     "Get an order",
		description: "The order's current state; `card` is set once it completed, `failure_reason` once it failed.",
		ok:          map[int]any{http.StatusOK: Order{}},
		problems:    []string{codeOrderNotFound},
	},
	{
		id: "balance.get", method: http.MethodGet, path: "/v1/balance", serve: (*Vendor).getBalance,
		summary: "Get the balance",
		description: "What is left to spend. In the sandbox every partner starts with 100,000 cents of fake USD. " +
			"The live vendor stand-in of local runs holds no money and answers `404 balance_not_available`.",
		ok:       map[int]any{http.StatusOK: Balance{}},
		problems: []string{codeNoBalance},
	},
}

// edgeDenials are the problems the edge answers before any upstream sees the request, by
// status (the edge's codes, README.md "Problem codes"). They are written here, not taken
// from the edge's package, so the vendor does not link the edge core; a test compares them.
var edgeDenials = map[int][]string{
	http.StatusUnauthorized:        {"missing_key", "invalid_key", "key_revoked", "key_expired"},
	http.StatusForbidden:           {"ip_not_allowed", "forbidden_by_policy", "partner_suspended"},
	http.StatusInternalServerError: {"internal_error"},
	http.StatusBadGateway:          {"upstream_unavailable"},
	http.StatusServiceUnavailable:  {"policy_error"},
	http.StatusGatewayTimeout:      {"upstream_timeout"},
}

// PartnerOpenAPI returns the OpenAPI 3.1 document of the partner API: the gift-card API that
// partners call through the edge with an API key. Its schemas come from the vendor's own
// request and response types and its operations from the table the vendor routes with.
func PartnerOpenAPI(version string) *huma.OpenAPI {
	registry := huma.NewMapRegistry("#/components/schemas/", func(t reflect.Type, hint string) string {
		if t == reflect.TypeFor[problem.Document]() {
			return "Problem"
		}
		return huma.DefaultSchemaNamer(t, hint)
	})
	doc := &huma.OpenAPI{
		OpenAPI: "3.1.0",
		Info: &huma.Info{
			Title:   "Steller partner API",
			Version: version,
			Description: "The gift-card API partners call through the Steller edge. A test key (`sk_test_…`) " +
				"reaches the sandbox, with fake money and the magic values of `POST /v1/orders`; a live key " +
				"reaches the live service, with real money. Every answer carries the edge's `X-Request-Id`; quote it to support. A client's own " +
				"`X-Request-Id` (up to " + strconv.Itoa(identity.MaxClientRequestIDLen) + " letters, digits, `.`, `_`, `:` or `-`) is kept as `client_request_id` in " +
				"the request log. Errors are RFC 9457 problem documents with a stable `code`.",
		},
		Servers: []*huma.Server{{URL: "http://127.0.0.1:8000", Description: "The gateway of `steller dev`"}},
		Components: &huma.Components{
			Schemas: registry,
			SecuritySchemes: map[string]*huma.SecurityScheme{
				"apiKeyBearer": {Type: "http", Scheme: "bearer", Description: "An API key as `Authorization: Bearer <key>`."},
				"apiKeyHeader": {Type: "apiKey", In: "header", Name: "X-Api-Key", Description: "An API key as `X-Api-Key: <key>`."},
			},
		},
		Security: []map[string][]string{{"apiKeyBearer": {}}, {"apiKeyHeader": {}}},
		Tags: []*huma.Tag{
			{Name: "catalog", Description: "What can be ordered."},
			{Name: "orders", Description: "Gift-card orders: idempotent, finished asynchronously."},
			{Name: "balance", Description: "What is left to spend."},
		},
	}
	problemSchema := registry.Schema(reflect.TypeFor[problem.Document](), true, "")
	for _, op := range operations {
		doc.AddOperation(op.document(registry, problemSchema))
	}
	return doc
}

// document is op's OpenAPI operation.
func (op operation) document(registry huma.Registry, problemSchema *huma.Schema) *huma.Operation {
	requestID := &huma.Header{
		Description: "The edge's id of this request.", Required: true,
		Schema: &huma.Schema{Type: huma.TypeString},
	}
	out := &huma.Operation{
		OperationID: op.id, Method: op.method, Path: op.path, Summary: op.summary, Description: op.description,
		Tags: []string{strings.Split(op.id, ".")[0]}, Responses: map[string]*huma.Response{},
	}
	if strings.Contains(op.path, "{id}") {
		out.Parameters = append(out.Parameters, &huma.Param{
			Name: "id", In: "path", Required: true, Description: "The order id.",
			Schema: &huma.Schema{Type: huma.TypeString, Pattern: ident.Pattern("ord")},
		})
	}
	if op.body != nil {
		out.Parameters = append(out.Parameters, &huma.Param{
			Name: HeaderIdempotencyKey, In: "header", Required: true,
			Description: "Makes retries safe: the same key with the same body never orders twice.",
			Schema:      &huma.Schema{Type: huma.TypeString, MinLength: ptr(1), MaxLength: ptr(maxIdempotencyKey)},
		})
		out.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: registry.Schema(reflect.TypeOf(op.body), true, "")},
		}}
	}
	for status, body := range op.ok {
		r := &huma.Response{
			Description: http.StatusText(status),
			Headers:     map[string]*huma.Param{identity.HeaderRequestID: requestID},
			Content:     map[string]*huma.MediaType{"application/json": {Schema: registry.Schema(reflect.TypeOf(body), true, "")}},
		}
		if op.method == http.MethodPost && status == http.StatusOK {
			r.Description = "The order created earlier with this Idempotency-Key and the same body (a replay)."
			r.Headers[HeaderReplayed] = &huma.Header{Description: "`true` on a replay.", Required: true,
				Schema: &huma.Schema{Type: huma.TypeString, Enum: []any{"true"}}}
		}
		out.Responses[strconv.Itoa(status)] = r
	}
	codes := map[int][]string{}
	for status, list := range edgeDenials {
		codes[status] = slices.Clone(list)
	}
	for _, code := range op.problems {
		codes[problems[code].status] = append(codes[problems[code].status], code)
	}
	for status, list := range codes {
		out.Responses[strconv.Itoa(status)] = &huma.Response{
			Description: http.StatusText(status) + ": `" + strings.Join(list, "`, `") + "`.",
			Headers:     map[string]*huma.Param{identity.HeaderRequestID: requestID},
			Content:     map[string]*huma.MediaType{problem.ContentType: {Schema: problemSchema}},
		}
	}
	return out
}

// TransformSchema adds what struct tags cannot say: metadata keys and values are bounded,
// and the optional recipient and metadata may be null (taken as absent).
func (OrderRequest) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	if m := s.Properties["metadata"]; m != nil {
		m.AdditionalProperties = &huma.Schema{Type: huma.TypeString, MaxLength: ptr(maxMetadataValue)}
		m.Extensions = map[string]any{"propertyNames": map[string]any{"minLength": 1, "maxLength": maxMetadataKey}}
		m.Nullable = true
	}
	nullableRef(s, "recipient")
	return s
}

// TransformSchema marks the fields that are null until set: struct tags cannot make a
// referenced schema nullable.
func (Order) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	if p := s.Properties["failure_reason"]; p != nil {
		p.Enum = append(p.Enum, nil)
	}
	nullableRef(s, "recipient")
	nullableRef(s, "card")
	return s
}

// TransformSchema states that an email is an address or empty (absent).
func (Recipient) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	if e := s.Properties["email"]; e != nil {
		e.AnyOf = []*huma.Schema{{Format: "email"}, {MaxLength: ptr(0)}}
	}
	return s
}

// nullableRef lets s's property name, a referenced object, be null too.
func nullableRef(s *huma.Schema, name string) {
	if p := s.Properties[name]; p != nil && p.Ref != "" {
		s.Properties[name] = &huma.Schema{Description: p.Description, AnyOf: []*huma.Schema{{Ref: p.Ref}, {Type: "null"}}}
	}
}

func ptr[T any](v T) *T { return &v }
