package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/control-plane/rbac"
)

// Deps are what the console operation needs.
type Deps struct {
	// Console places the orders (required).
	Console *Console
	// RBAC decides keys.manage: the console mints a key, so it takes a member who may
	// (Owner, Developer; not Finance).
	RBAC rbac.Checker
}

// TestOrderBody is the order to place; both fields have defaults.
type TestOrderBody struct {
	_           struct{} `additionalProperties:"false"`
	ProductID   string   `json:"product_id,omitempty" default:"sbx_amazing_books" maxLength:"64" doc:"A sandbox catalog product (GET /v1/catalog through the edge lists them)."`
	AmountCents int64    `json:"amount_cents,omitempty" default:"2500" minimum:"1" maximum:"100000000" doc:"Face value in cents."`
}

// TestOrderResult is what the edge answered, as a partner's code would have seen it.
type TestOrderResult struct {
	RequestID string          `json:"request_id" doc:"The edge request id: find the request in the log explorer with it."`
	Status    int             `json:"status" doc:"The HTTP status the edge answered with."`
	Response  json.RawMessage `json:"response" doc:"The edge's JSON answer: the sandbox order, or a problem document."`
	KeyID     string          `json:"key_id" doc:"The temporary test key used (revoked since)."`
}

type (
	testOrderInput  struct{ Body *TestOrderBody }
	testOrderOutput struct{ Body TestOrderResult }
)

// Register adds POST /v1/console/test-order to api.
func Register(api huma.API, d Deps) {
	if d.Console == nil || d.RBAC == nil {
		panic(errors.New("console.Register: Deps.Console and Deps.RBAC are required"))
	}
	huma.Register(api, huma.Operation{OperationID: "console-test-order", Method: http.MethodPost,
		Path: "/v1/console/test-order", Tags: []string{"Console"}, Summary: "Place a test gift-card order through the edge",
		Description: "Zero-code first call: mints a temporary test key, orders a sandbox gift card through the edge " +
			"with it (the request shows up in your logs, and order webhooks fire, like any other), and revokes the key."},
		func(ctx context.Context, in *testOrderInput) (*testOrderOutput, error) {
			p, err := rbac.Authorize(ctx, d.RBAC, rbac.KeysManage)
			if err != nil {
				return nil, err
			}
			o := Order{ProductID: "sbx_amazing_books", AmountCents: 2500}
			if in.Body != nil {
				if in.Body.ProductID != "" {
					o.ProductID = in.Body.ProductID
				}
				if in.Body.AmountCents != 0 {
					o.AmountCents = in.Body.AmountCents
				}
			}
			res, err := d.Console.PlaceTestOrder(ctx, p, o)
			if err != nil {
				return nil, err
			}
			return &testOrderOutput{Body: TestOrderResult{RequestID: res.RequestID, Status: res.Status, Response: res.Body, KeyID: res.KeyID}}, nil
		})
}
