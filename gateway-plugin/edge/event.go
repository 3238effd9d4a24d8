package edge

import (
	"time"

	"github.com/steller/platform/analytics/requestlog"
)

// Result is what the host measured after answering a request.
type Result struct {
	// Status is the HTTP status sent to the client.
	Status int
	// ResponseBytes is the response body size sent to the client.
	ResponseBytes int64
	// Total is the time from receiving the request to finishing the response.
	Total time.Duration
	// Upstream is the time spent waiting on the upstream (0 when denied).
	Upstream time.Duration
}

// NewEvent builds the request-log event for a decided and answered request. The edge
// latency is Total minus Upstream.
func NewEvent(req *Request, o *Outcome, res Result) requestlog.Event {
	e := requestlog.Event{
		SchemaVersion:      requestlog.SchemaVersion,
		RequestID:          o.RequestID,
		ClientRequestID:    o.ClientRequestID,
		IdempotencyKeyHash: IdempotencyKeyHash(req.IdempotencyKey),
		TimestampMs:        o.Received.UnixMilli(),
		PartnerID:          o.Identity.PartnerID,
		WorkspaceID:        o.Identity.WorkspaceID,
		KeyID:              o.Identity.KeyID,
		Environment:        string(o.Identity.Environment),
		Method:             req.Method,
		Path:               req.Path,
		Route:              o.Route,
		Status:             res.Status,
		LatencyTotalUs:     res.Total.Microseconds(),
		LatencyUpstreamUs:  res.Upstream.Microseconds(),
		LatencyEdgeUs:      max(res.Total-res.Upstream, 0).Microseconds(),
		UserAgent:          req.UserAgent,
		RequestBytes:       req.RequestBytes,
		ResponseBytes:      res.ResponseBytes,
		Decision:           requestlog.DecisionAllow,
	}
	if req.ClientAddr.IsValid() {
		e.ClientIP = req.ClientAddr.Unmap().String()
	}
	if !o.Allowed {
		e.Decision = requestlog.DecisionDeny
		e.DenialCode = o.Code
	}
	return e
}
