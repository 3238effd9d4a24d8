// Package explorer owns the partner log explorer and usage analytics API: a partner's own
// request logs (filtered, keyset-paginated, one request in full with the webhooks its order
// caused), usage figures from the ClickHouse rollups, and the same for platform admins
// across partners. Queries are built by analytics/logquery; this package decides who may
// read what (the OPA policy: logs.read, usage.read, admin.partners.read) and always puts
// the caller's partner into the query, so no filter or cursor can reach another partner.
// The portal's log explorer pages call the same reads in process (Deps.Logs, Deps.Request).
package explorer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/page"
	"github.com/steller/platform/control-plane/webhook"
)

// Store answers log and usage queries (logquery.Store does, on ClickHouse).
type Store interface {
	// Logs returns one page of a partner's request logs.
	Logs(ctx context.Context, f logquery.Filter, after *logquery.Cursor, limit int) (logquery.Page, error)
	// Request returns one request of a partner.
	Request(ctx context.Context, partnerID, requestID string) (logquery.Row, bool, error)
	// Usage returns usage figures for one partner or all.
	Usage(ctx context.Context, q logquery.UsageQuery) (logquery.Usage, error)
	// UsageByPartner returns the busiest partners' figures.
	UsageByPartner(ctx context.Context, from, to time.Time, limit int) ([]logquery.PartnerUsage, error)
}

// Deliveries finds the webhook deliveries an edge request's order caused (webhook.Service).
type Deliveries interface {
	// DeliveriesForRequest lists them for the tenant of p.
	DeliveriesForRequest(ctx context.Context, p auth.Principal, requestID string) ([]webhook.Delivery, error)
}

// cursor is the opaque next_cursor of a log page: the last row's sort key and a
// fingerprint of the filter it was made for, so a cursor used with other filters is
// refused instead of silently paging something else.
type cursor struct {
	TimestampMs uint64 `json:"t"`
	RequestID   string `json:"id"`
	Filter      string `json:"f"`
}

// fingerprint identifies a filter (partner included).
func fingerprint(f logquery.Filter) string {
	raw, _ := json.Marshal(f) // plain strings, numbers and times: deterministic across replicas
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8])
}

func encodeCursor(c *logquery.Cursor, f logquery.Filter) string {
	if c == nil {
		return ""
	}
	return page.Encode(cursor{TimestampMs: c.TimestampMs, RequestID: c.RequestID, Filter: fingerprint(f)})
}

func decodeCursor(s string, f logquery.Filter) (*logquery.Cursor, error) {
	var c cursor
	ok, err := page.Decode(s, &c)
	if err != nil || !ok {
		return nil, err
	}
	if c.RequestID == "" || c.TimestampMs == 0 || c.Filter != fingerprint(f) {
		return nil, page.Invalid(s)
	}
	return &logquery.Cursor{TimestampMs: c.TimestampMs, RequestID: c.RequestID}, nil
}

// invalid maps logquery's validation errors to a 422 naming each query parameter.
func invalid(err error) error {
	var ve logquery.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	details := make([]error, len(ve))
	for i, fe := range ve {
		details[i] = &huma.ErrorDetail{Location: "query." + fe.Field, Message: fe.Message}
	}
	return huma.Error422UnprocessableEntity("invalid query: "+ve[0].Field+": "+ve[0].Message, details...)
}
