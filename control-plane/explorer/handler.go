package explorer

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/rbac"
	"github.com/steller/platform/control-plane/webhook"
)

// Deps are what the explorer's operations need.
type Deps struct {
	// Store runs the queries (required).
	Store Store
	// Deliveries finds a request's webhooks (required).
	Deliveries Deliveries
	// RBAC decides logs.read, usage.read and admin.partners.read (required).
	RBAC rbac.Checker
	// Now is the clock for default time ranges; time.Now when nil.
	Now func() time.Time
}

// LogList is one page of request logs, newest first.
type LogList struct {
	Logs       []logquery.Row `json:"logs"`
	NextCursor string         `json:"next_cursor,omitempty" doc:"Pass as cursor for the next (older) page with the same filters."`
}

// RequestDetail is one request in full, with the webhook deliveries its order caused.
type RequestDetail struct {
	Request  logquery.Row       `json:"request"`
	Webhooks []webhook.Delivery `json:"webhooks" doc:"Deliveries of the order events this request caused (oldest first)."`
}

// AdminUsage is usage over all partners, and the busiest partners.
type AdminUsage struct {
	Overall  logquery.Usage          `json:"overall"`
	Partners []logquery.PartnerUsage `json:"partners" doc:"The busiest partners by requests."`
}

// LogFilters are the query parameters of a log page. It and UsageRange are exported: Huma
// applies the defaults and enums of embedded structs only when they are.
type LogFilters struct {
	Status      string    `query:"status" maxLength:"3" pattern:"^([1-5][0-9]{2}|[1-5]xx)$" doc:"An exact status (404) or a class (4xx)." example:"4xx"`
	Method      string    `query:"method" maxLength:"16" pattern:"^[A-Z]{1,16}$" example:"POST"`
	Path        string    `query:"path" maxLength:"2048" pattern:"^/[^\\x00-\\x1f\\x7f-\\x9f]*$" doc:"Exact path."`
	PathPrefix  string    `query:"path_prefix" maxLength:"2048" pattern:"^/[^\\x00-\\x1f\\x7f-\\x9f]*$" doc:"Paths starting with this (instead of path)."`
	Route       string    `query:"route" maxLength:"256" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]*$" example:"orders.create"`
	KeyID       string    `query:"key_id" maxLength:"128" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]*$"`
	Environment string    `query:"environment" enum:"test,live"`
	From        time.Time `query:"from" doc:"At or after (RFC 3339)."`
	To          time.Time `query:"to" doc:"Before (RFC 3339)."`
	RequestID   string    `query:"request_id" maxLength:"128" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]*$" doc:"The edge's request id (X-Request-Id of the response)."`
	// ClientRequestID's pattern and maxLength are identity.ClientRequestIDPattern and
	// identity.MaxClientRequestIDLen (a test holds them equal).
	ClientRequestID string `query:"client_request_id" maxLength:"128" pattern:"^[A-Za-z0-9._:-]{1,128}$" doc:"The X-Request-Id the client sent; several requests may share one." example:"order-7f3a"`
	DenialCode      string `query:"denial_code" maxLength:"64" pattern:"^[a-z][a-z0-9_]{0,63}$" example:"ip_not_allowed"`
	Cursor          string `query:"cursor" maxLength:"512" doc:"next_cursor of the previous page."`
	Limit           int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

type (
	logsInput      struct{ LogFilters }
	adminLogsInput struct {
		PartnerID string `path:"partnerId" maxLength:"64"`
		LogFilters
	}
	logsOutput   struct{ Body LogList }
	requestInput struct {
		RequestID string `path:"requestId" maxLength:"128" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]+$"`
	}
	adminRequestInput struct {
		PartnerID string `path:"partnerId" maxLength:"64"`
		RequestID string `path:"requestId" maxLength:"128" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]+$"`
	}
	requestOutput struct{ Body RequestDetail }
	// UsageRange is the time range and bucket of a usage query.
	UsageRange struct {
		From     time.Time `query:"from" doc:"Start (RFC 3339); default 24 hours before to."`
		To       time.Time `query:"to" doc:"End (RFC 3339); default now."`
		Interval string    `query:"interval" enum:"minute,hour,day" default:"hour"`
	}
	usageInput      struct{ UsageRange }
	adminUsageInput struct {
		PartnerID string `path:"partnerId" maxLength:"64"`
		UsageRange
	}
	usageOutput   struct{ Body logquery.Usage }
	allUsageInput struct {
		UsageRange
		Partners int `query:"partners" minimum:"1" maximum:"1000" default:"20" doc:"How many of the busiest partners to list."`
	}
	allUsageOutput struct{ Body AdminUsage }
)

// filter turns the query parameters into a logquery.Filter for partnerID.
func (in LogFilters) filter(partnerID string) (logquery.Filter, error) {
	f := logquery.Filter{PartnerID: partnerID, Environment: in.Environment, Method: in.Method, Route: in.Route,
		KeyID: in.KeyID, RequestID: in.RequestID, ClientRequestID: in.ClientRequestID, DenialCode: in.DenialCode,
		From: in.From, To: in.To, Path: in.Path}
	if in.PathPrefix != "" {
		if in.Path != "" {
			return f, invalid(logquery.ValidationError{{Field: "path_prefix", Message: "give path or path_prefix, not both"}})
		}
		f.Path, f.PathPrefix = in.PathPrefix, true
	}
	if s := strings.ToLower(in.Status); s != "" {
		if len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5' {
			f.StatusClass = int(s[0] - '0')
		} else if n, err := strconv.Atoi(s); err == nil && n >= 100 && n <= 599 {
			f.StatusCode = n
		} else {
			return f, invalid(logquery.ValidationError{{Field: "status", Message: "must be a status code (100-599) or a class (1xx-5xx)"}})
		}
	}
	return f, nil
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// query turns a usage range into a logquery.UsageQuery with its defaults.
func (d Deps) query(partnerID string, r UsageRange) logquery.UsageQuery {
	q := logquery.UsageQuery{PartnerID: partnerID, From: r.From, To: r.To, Interval: r.Interval}
	if q.To.IsZero() {
		q.To = d.now().UTC()
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-24 * time.Hour)
	}
	if q.Interval == "" {
		q.Interval = logquery.IntervalHour
	}
	return q
}

// Logs returns one page of partnerID's request logs matching in, as GET /v1/logs answers
// it, for callers in process (the portal's log explorer) that have authorized logs.read
// for partnerID themselves. Bad filters or a cursor made for other filters are 422
// problems naming each query parameter; a failed query is a 503.
func (d Deps) Logs(ctx context.Context, partnerID string, in LogFilters) (LogList, error) {
	f, err := in.filter(partnerID)
	if err != nil {
		return LogList{}, err
	}
	after, err := decodeCursor(in.Cursor, f)
	if err != nil {
		return LogList{}, err
	}
	if err := logquery.ValidatePage(f, after, in.Limit); err != nil {
		return LogList{}, invalid(err)
	}
	pg, err := d.Store.Logs(ctx, f, after, in.Limit)
	if err != nil {
		return LogList{}, queryFailed(err)
	}
	if pg.Rows == nil {
		pg.Rows = []logquery.Row{}
	}
	return LogList{Logs: pg.Rows, NextCursor: encodeCursor(pg.Next, f)}, nil
}

// Request returns one request of partnerID in full with the webhook deliveries it caused,
// as GET /v1/logs/{requestId} answers it, for callers in process that have authorized
// logs.read for partnerID themselves; another partner's request is not found.
func (d Deps) Request(ctx context.Context, partnerID, requestID string) (RequestDetail, error) {
	row, ok, err := d.Store.Request(ctx, partnerID, requestID)
	if err != nil {
		return RequestDetail{}, queryFailed(err)
	}
	if !ok {
		return RequestDetail{}, fault.New(fault.ErrNotFound, "no request "+requestID+" in this partner's logs")
	}
	// The deliveries belong to the workspace of the key that made the request.
	hooks, err := d.Deliveries.DeliveriesForRequest(ctx, auth.Principal{PartnerID: row.PartnerID, WorkspaceID: row.WorkspaceID}, requestID)
	if err != nil {
		return RequestDetail{}, err
	}
	if hooks == nil {
		hooks = []webhook.Delivery{}
	}
	return RequestDetail{Request: row, Webhooks: hooks}, nil
}

func (d Deps) logs(ctx context.Context, partnerID string, in LogFilters) (*logsOutput, error) {
	list, err := d.Logs(ctx, partnerID, in)
	if err != nil {
		return nil, err
	}
	return &logsOutput{Body: list}, nil
}

func (d Deps) request(ctx context.Context, partnerID, requestID string) (*requestOutput, error) {
	detail, err := d.Request(ctx, partnerID, requestID)
	if err != nil {
		return nil, err
	}
	return &requestOutput{Body: detail}, nil
}

func (d Deps) usage(ctx context.Context, partnerID string, r UsageRange) (*usageOutput, error) {
	q := d.query(partnerID, r)
	if err := q.Validate(); err != nil {
		return nil, invalid(err)
	}
	u, err := d.Store.Usage(ctx, q)
	if err != nil {
		return nil, queryFailed(err)
	}
	return &usageOutput{Body: u}, nil
}

// queryFailed maps a failed query: validation to 422, anything else to a 503 (ClickHouse
// is down or slow), never a partial answer.
func queryFailed(err error) error {
	if errors.Is(err, logquery.ErrInvalid) {
		return invalid(err)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return huma.Error503ServiceUnavailable("the request logs cannot be read right now; try again shortly")
}

// Register adds the explorer's operations to api.
func Register(api huma.API, d Deps) {
	if d.Store == nil || d.Deliveries == nil || d.RBAC == nil {
		panic(errors.New("explorer.Register: Deps.Store, Deps.Deliveries and Deps.RBAC are required"))
	}
	partner := func(ctx context.Context, action string) (string, error) {
		p, err := rbac.Authorize(ctx, d.RBAC, action)
		if err != nil {
			return "", err
		}
		if p.PartnerID == "" {
			return "", fault.New(fault.ErrForbidden, "request logs belong to a partner: sign in as a workspace member")
		}
		return p.PartnerID, nil
	}
	admin := func(ctx context.Context) error {
		_, err := rbac.Authorize(ctx, d.RBAC, rbac.AdminPartnersRead)
		return err
	}
	tags, adminTags := []string{"Logs and usage"}, []string{"Admin: analytics"}

	huma.Register(api, huma.Operation{OperationID: "list-logs", Method: http.MethodGet, Path: "/v1/logs", Tags: tags,
		Summary: "List your request logs", Description: "Every request your keys made at the edge, allowed or denied, newest first."},
		func(ctx context.Context, in *logsInput) (*logsOutput, error) {
			id, err := partner(ctx, rbac.LogsRead)
			if err != nil {
				return nil, err
			}
			return d.logs(ctx, id, in.LogFilters)
		})
	huma.Register(api, huma.Operation{OperationID: "get-log", Method: http.MethodGet, Path: "/v1/logs/{requestId}", Tags: tags,
		Summary: "Get one request", Description: "The request in full, with the webhook deliveries its order caused."},
		func(ctx context.Context, in *requestInput) (*requestOutput, error) {
			id, err := partner(ctx, rbac.LogsRead)
			if err != nil {
				return nil, err
			}
			return d.request(ctx, id, in.RequestID)
		})
	huma.Register(api, huma.Operation{OperationID: "get-usage", Method: http.MethodGet, Path: "/v1/usage", Tags: tags,
		Summary: "Your usage", Description: "Requests by environment over time, error rate, latency by route, top routes and errors."},
		func(ctx context.Context, in *usageInput) (*usageOutput, error) {
			id, err := partner(ctx, rbac.UsageRead)
			if err != nil {
				return nil, err
			}
			return d.usage(ctx, id, in.UsageRange)
		})

	huma.Register(api, huma.Operation{OperationID: "admin-list-logs", Method: http.MethodGet, Path: "/v1/admin/partners/{partnerId}/logs",
		Tags: adminTags, Summary: "List a partner's request logs"},
		func(ctx context.Context, in *adminLogsInput) (*logsOutput, error) {
			if err := admin(ctx); err != nil {
				return nil, err
			}
			return d.logs(ctx, in.PartnerID, in.LogFilters)
		})
	huma.Register(api, huma.Operation{OperationID: "admin-get-log", Method: http.MethodGet, Path: "/v1/admin/partners/{partnerId}/logs/{requestId}",
		Tags: adminTags, Summary: "Get one request of a partner"},
		func(ctx context.Context, in *adminRequestInput) (*requestOutput, error) {
			if err := admin(ctx); err != nil {
				return nil, err
			}
			return d.request(ctx, in.PartnerID, in.RequestID)
		})
	huma.Register(api, huma.Operation{OperationID: "admin-get-partner-usage", Method: http.MethodGet, Path: "/v1/admin/partners/{partnerId}/usage",
		Tags: adminTags, Summary: "A partner's usage"},
		func(ctx context.Context, in *adminUsageInput) (*usageOutput, error) {
			if err := admin(ctx); err != nil {
				return nil, err
			}
			return d.usage(ctx, in.PartnerID, in.UsageRange)
		})
	huma.Register(api, huma.Operation{OperationID: "admin-get-usage", Method: http.MethodGet, Path: "/v1/admin/usage",
		Tags: adminTags, Summary: "Usage over all partners", Description: "Overall figures and the busiest partners."},
		func(ctx context.Context, in *allUsageInput) (*allUsageOutput, error) {
			if err := admin(ctx); err != nil {
				return nil, err
			}
			q := d.query("", in.UsageRange)
			if err := q.Validate(); err != nil {
				return nil, invalid(err)
			}
			if err := logquery.ValidatePartnerUsage(q.From, q.To, in.Partners); err != nil {
				return nil, invalid(err)
			}
			overall, err := d.Store.Usage(ctx, q)
			if err != nil {
				return nil, queryFailed(err)
			}
			partners, err := d.Store.UsageByPartner(ctx, q.From, q.To, in.Partners)
			if err != nil {
				return nil, queryFailed(err)
			}
			if partners == nil {
				partners = []logquery.PartnerUsage{}
			}
			return &allUsageOutput{Body: AdminUsage{Overall: overall, Partners: partners}}, nil
		})
}
