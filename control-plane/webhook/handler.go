package webhook

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/input"
	"github.com/steller/platform/control-plane/rbac"
)

// Deps are what the webhook operations need.
type Deps struct {
	// Webhooks is the service (required).
	Webhooks *Service
	// RBAC decides webhooks.manage (required).
	RBAC rbac.Checker
}

// allow returns the caller when it may manage webhooks, or the Huma problem to answer.
func allow(ctx context.Context, checker rbac.Checker) (auth.Principal, error) {
	p, err := rbac.Authorize(ctx, checker, rbac.WebhooksManage)
	if err != nil {
		return auth.Principal{}, err
	}
	if p.PartnerID == "" || p.WorkspaceID == "" {
		return auth.Principal{}, fault.New(fault.ErrForbidden, "webhooks belong to a partner workspace")
	}
	return p, nil
}

// CreateEndpointBody is a new endpoint.
type CreateEndpointBody struct {
	_           struct{} `additionalProperties:"false"`
	URL         string   `json:"url" minLength:"8" maxLength:"2048" pattern:"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@ ]+([/?][^# ]*)?$" patternDescription:"an absolute http(s) URL without credentials or fragment" doc:"Where events are POSTed; https (http only for test endpoints where enabled)."`
	Environment string   `json:"environment,omitempty" enum:"test,live" default:"test" doc:"Which orders it receives."`
	EventTypes  []string `json:"event_types" minItems:"1" maxItems:"3" enum:"order.created,order.completed,order.failed"`
	Description string   `json:"description,omitempty" maxLength:"500" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]*$" patternDescription:"text without control characters"`
	Enabled     *bool    `json:"enabled,omitempty" doc:"Default true."`
}

// CreatedEndpoint is a new endpoint with its secret, shown this once.
type CreatedEndpoint struct {
	Endpoint
	Secret string `json:"secret" doc:"The whsec_ signing secret. It is shown only now."`
}

// UpdateEndpointBody is a partial update; absent fields are kept.
type UpdateEndpointBody struct {
	_           struct{} `additionalProperties:"false"`
	URL         *string  `json:"url,omitempty" minLength:"8" maxLength:"2048" pattern:"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@ ]+([/?][^# ]*)?$" patternDescription:"an absolute http(s) URL without credentials or fragment"`
	EventTypes  []string `json:"event_types,omitempty" minItems:"1" maxItems:"3" enum:"order.created,order.completed,order.failed"`
	Description *string  `json:"description,omitempty" maxLength:"500" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]*$" patternDescription:"text without control characters"`
	Enabled     *bool    `json:"enabled,omitempty" doc:"Enabling clears why Steller disabled it."`
}

// RotateSecretBody sets how long the old secret keeps signing.
type RotateSecretBody struct {
	_       struct{}       `additionalProperties:"false"`
	Overlap input.Duration `json:"overlap,omitempty" default:"24h" doc:"Go duration (24h, 90m) both secrets sign; at most 168h."`
}

// RotatedSecret is the answer to a rotation.
type RotatedSecret struct {
	Endpoint Endpoint `json:"endpoint"`
	Secret   string   `json:"secret" doc:"The new whsec_ secret, shown only now."`
}

// EndpointList is one page of endpoints.
type EndpointList struct {
	Endpoints  []Endpoint `json:"endpoints"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// DeliveryList is one page of the delivery log.
type DeliveryList struct {
	Deliveries []Delivery `json:"deliveries"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// RedeliverFailedBody selects failed deliveries to send again.
type RedeliverFailedBody struct {
	_          struct{}  `additionalProperties:"false"`
	Since      time.Time `json:"since" doc:"Failed deliveries created at or after this time."`
	EndpointID string    `json:"endpoint_id,omitempty" maxLength:"64"`
}

// RedeliverFailedResult says how many deliveries were queued again.
type RedeliverFailedResult struct {
	Queued int `json:"queued"`
}

type (
	createEndpointInput  struct{ Body CreateEndpointBody }
	createEndpointOutput struct{ Body CreatedEndpoint }
	pageInput            struct {
		Cursor string `query:"cursor" maxLength:"512" doc:"next_cursor of the previous page."`
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
	}
	endpointListOutput struct{ Body EndpointList }
	endpointIDInput    struct {
		ID string `path:"id" maxLength:"64"`
	}
	endpointOutput      struct{ Body Endpoint }
	updateEndpointInput struct {
		ID   string `path:"id" maxLength:"64"`
		Body UpdateEndpointBody
	}
	rotateInput struct {
		ID   string `path:"id" maxLength:"64"`
		Body *RotateSecretBody
	}
	rotateOutput      struct{ Body RotatedSecret }
	deliveryOutput    struct{ Body Delivery }
	listDeliveryInput struct {
		pageInput
		EndpointID string    `query:"endpoint_id" maxLength:"64"`
		EventType  string    `query:"event_type" enum:"order.created,order.completed,order.failed,webhook.test"`
		Status     string    `query:"status" enum:"pending,delivered,failed"`
		From       time.Time `query:"from" doc:"Created at or after (RFC 3339)."`
		To         time.Time `query:"to" doc:"Created before (RFC 3339)."`
	}
	deliveryListOutput    struct{ Body DeliveryList }
	deliveryDetailOutput  struct{ Body DeliveryDetail }
	redeliverFailedInput  struct{ Body RedeliverFailedBody }
	redeliverFailedOutput struct{ Body RedeliverFailedResult }
)

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Register adds the webhook endpoint and delivery operations to api.
func Register(api huma.API, d Deps) {
	if d.Webhooks == nil || d.RBAC == nil {
		panic(errors.New("webhook.Register: Deps.Webhooks and Deps.RBAC are required"))
	}
	s := d.Webhooks
	tags := []string{"Webhooks"}
	huma.Register(api, huma.Operation{OperationID: "create-webhook-endpoint", Method: http.MethodPost,
		Path: "/v1/webhooks/endpoints", Tags: tags, Summary: "Create a webhook endpoint", DefaultStatus: http.StatusCreated,
		Description: "The whsec_ signing secret is in this response only."},
		func(ctx context.Context, in *createEndpointInput) (*createEndpointOutput, error) {
			p, err := allow(ctx, d.RBAC)
			if err != nil {
				return nil, err
			}
			enabled := in.Body.Enabled == nil || *in.Body.Enabled
			env := in.Body.Environment
			if env == "" {
				env = "test"
			}
			ep, secret, err := s.CreateEndpoint(ctx, p, EndpointSettings{Environment: env, URL: in.Body.URL,
				Description: in.Body.Description, EventTypes: in.Body.EventTypes, Enabled: enabled})
			if err != nil {
				return nil, err
			}
			return &createEndpointOutput{Body: CreatedEndpoint{Endpoint: ep, Secret: secret}}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "list-webhook-endpoints", Method: http.MethodGet,
		Path: "/v1/webhooks/endpoints", Tags: tags, Summary: "List webhook endpoints"},
		func(ctx context.Context, in *pageInput) (*endpointListOutput, error) {
			p, err := allow(ctx, d.RBAC)
			if err != nil {
				return nil, err
			}
			page, err := s.ListEndpoints(ctx, p, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			return &endpointListOutput{Body: EndpointList(page)}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "get-webhook-endpoint", Method: http.MethodGet,
		Path: "/v1/webhooks/endpoints/{id}", Tags: tags, Summary: "Get a webhook endpoint"},
		func(ctx context.Context, in *endpointIDInput) (*endpointOutput, error) {
			p, err := allow(ctx, d.RBAC)
			if err != nil {
				return nil, err
			}
			ep, err := s.GetEndpoint(ctx, p, in.ID)
			if err != nil {
				return nil, err
			}
			return &endpointOutput{Body: ep}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "update-webhook-endpoint", Method: http.MethodPatch,
		Path: "/v1/webhooks/endpoints/{id}", Tags: tags, Summary: "Update a webhook endpoint"},
		func(ctx context.Context, in *updateEndpointInput) (*endpointOutput, error) {
			p, err := allow(ctx, d.RBAC)
			if err != nil {
				return nil, err
			}
			b := in.Body
			ep, err := s.UpdateEndpoint(ctx, p, in.ID, EndpointChange{URL: b.URL, Description: b.Description, EventTypes: b.EventTypes, Enabled: b.Enabled})
			if err != nil {
				return nil, err
			}
			return &endpointOutput{Body: ep}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "delete-webhook-endpoint", Method: http.MethodDelete,
		Path: "/v1/webhooks/endpoints/{id}", Tags: tags, Summary: "Delete a webhook endpoint", DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *endpointIDInput) (*struct{}, error) {
			p, err := allow(ctx, d.RBAC)
			if err != nil {
				return nil, err
			}
			if err := s.DeleteEndpoint(ctx, p, in.ID); err != nil {
				return nil, err
			}
			return nil, nil
		})
	huma.Register(api, huma.Operation{OperationID: "rotate-webhook-secret", Method: http.MethodPost,
		Path: "/v1/webhooks/endpoints/{id}/rotate-secret", Tags: tags, Summary: "Rotate an endpoint's signing secret",
		Description: "During the overlap every delivery carries both signatures: v1,<new> v1,<old>."},
		func(ctx context.Context, in *rotateInput) (*rotateOutput, error) {
			p, err := allow(ctx, d.RBAC)
			if err != nil {
				return nil, err
			}
			var raw input.Duration
			if in.Body != nil {
				raw = in.Body.Overlap
			}
			overlap, err := raw.Parse("body.overlap", DefaultOverlap)
			if err != nil {
				return nil, err
			}
			ep, secret, err := s.RotateSecret(ctx, p, in.ID, overlap)
			if err != nil {
				return nil, err
			}
			return &rotateOutput{Body: RotatedSecret{Endpoint: ep, Secret: secret}}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "test-webhook-endpoint", Method: http.MethodPost,
		Path: "/v1/webhooks/endpoints/{id}/test", Tags: tags, Summary: "Send a test event", DefaultStatus: http.StatusAccepted,
		Description: "Queues a webhook.test event to the endpoint; follow it in the delivery log."},
		func(ctx context.Context, in *endpointIDInput) (*deliveryOutput, error) {
			p, err := allow(ctx, d.RBAC)
			if err != nil {
				return nil, err
			}
			dl, err := s.SendTest(ctx, p, in.ID)
			if err != nil {
				return nil, err
			}
			return &deliveryOutput{Body: dl}, nil
		})
	registerDeliveries(api, d, tags)
	huma.Register(api, huma.Operation{OperationID: "list-webhook-notifications", Method: http.MethodGet,
		Path: "/v1/webhooks/notifications", Tags: tags, Summary: "List webhook notifications",
		Description: "What Steller did to your webhooks without being asked, newest first: endpoint.disabled " +
			"when an endpoint answered 410 Gone or failed without a success for 5 days."},
		func(ctx context.Context, in *pageInput) (*notificationListOutput, error) {
			p, err := allow(ctx, d.RBAC)
			if err != nil {
				return nil, err
			}
			page, err := s.ListNotifications(ctx, p, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			return &notificationListOutput{Body: NotificationList(page)}, nil
		})
}

// NotificationList is one page of webhook notifications.
type NotificationList struct {
	Notifications []Notification `json:"notifications"`
	NextCursor    string         `json:"next_cursor,omitempty"`
}

type notificationListOutput struct{ Body NotificationList }

func registerDeliveries(api huma.API, d Deps, tags []string) {
	s := d.Webhooks
	huma.Register(api, huma.Operation{OperationID: "list-webhook-deliveries", Method: http.MethodGet,
		Path: "/v1/webhooks/deliveries", Tags: tags, Summary: "List webhook deliveries", Description: "Newest first."},
		func(ctx context.Context, in *listDeliveryInput) (*deliveryListOutput, error) {
			p, err := allow(ctx, d.RBAC)
			if err != nil {
				return nil, err
			}
			page, err := s.ListDeliveries(ctx, p, DeliveryFilter{EndpointID: in.EndpointID, EventType: in.EventType,
				Status: in.Status, From: optTime(in.From), To: optTime(in.To), Cursor: in.Cursor, Limit: in.Limit})
			if err != nil {
				return nil, err
			}
			return &deliveryListOutput{Body: DeliveryList(page)}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "get-webhook-delivery", Method: http.MethodGet,
		Path: "/v1/webhooks/deliveries/{id}", Tags: tags, Summary: "Get a delivery with every attempt"},
		func(ctx context.Context, in *endpointIDInput) (*deliveryDetailOutput, error) {
			p, err := allow(ctx, d.RBAC)
			if err != nil {
				return nil, err
			}
			dd, err := s.DeliveryWithAttempts(ctx, p, in.ID)
			if err != nil {
				return nil, err
			}
			return &deliveryDetailOutput{Body: dd}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "redeliver-webhook-delivery", Method: http.MethodPost,
		Path: "/v1/webhooks/deliveries/{id}/redeliver", Tags: tags, Summary: "Send a delivery again", DefaultStatus: http.StatusAccepted,
		Description: "Same webhook-id and body; a pending delivery is a conflict."},
		func(ctx context.Context, in *endpointIDInput) (*deliveryOutput, error) {
			p, err := allow(ctx, d.RBAC)
			if err != nil {
				return nil, err
			}
			dl, err := s.Redeliver(ctx, p, in.ID)
			if err != nil {
				return nil, err
			}
			return &deliveryOutput{Body: dl}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "redeliver-failed-webhook-deliveries", Method: http.MethodPost,
		Path: "/v1/webhooks/deliveries/redeliver", Tags: tags, Summary: "Send every failed delivery since a time again",
		DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, in *redeliverFailedInput) (*redeliverFailedOutput, error) {
			p, err := allow(ctx, d.RBAC)
			if err != nil {
				return nil, err
			}
			n, err := s.RedeliverFailed(ctx, p, in.Body.Since, in.Body.EndpointID)
			if err != nil {
				return nil, err
			}
			return &redeliverFailedOutput{Body: RedeliverFailedResult{Queued: n}}, nil
		})
}
