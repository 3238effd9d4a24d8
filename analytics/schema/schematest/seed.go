package schematest

import (
	"fmt"
	"time"

	"github.com/steller/platform/analytics/warehouse"
)

// Seed describes a synthetic request log for benchmarks, generated on the server by
// INSERT … SELECT from numbers(): Rows requests of Partners partners (ptr_0 …), spread
// evenly over [Start, Start+Span) with a hashed offset inside each partner's step; 5% 4xx
// (half of them invalid_key denials), 2% 5xx, a quarter live, eight routes.
type Seed struct {
	// Rows is the number of requests; Partners divides it.
	Rows int
	// Partners is the number of partners, each with Rows/Partners requests.
	Partners int
	// Start and Span bound the requests' times.
	Start time.Time
	Span  time.Duration
}

// stepMs is the time between two requests of one partner, in milliseconds.
func (s Seed) stepMs() int64 {
	return s.Span.Milliseconds() / int64(s.Rows/s.Partners)
}

// RequestLogsSQL generates the seed's rows numbers [offset, offset+count) into database's
// request_logs: row n is partner n % Partners's request number n / Partners.
func (s Seed) RequestLogsSQL(database string, offset, count int) string {
	return fmt.Sprintf(`INSERT INTO %s.request_logs (ts, timestamp_ms, request_id, partner_id, workspace_id, key_id,
    environment, method, path, route, status, latency_total_us, latency_upstream_us, latency_edge_us, client_ip,
    user_agent, request_bytes, response_bytes, decision, denial_code, schema_version, ingested_at)
SELECT toDateTime(intDiv(ms, 1000)), ms, concat('req_', lower(hex(sipHash128(toString(number))))),
    concat('ptr_', toString(number %% %[4]d)), concat('ws_', toString(number %% %[4]d)),
    concat('key_', toString(number %% %[4]d), '_', toString(number %% 3)),
    if(h %% 4 = 0, 'live', 'test'), if(ri = 2, 'POST', 'GET'),
    arrayElement(['/v1/catalog', '/v1/orders', '/v1/orders/ord_1', '/v1/balance', '/v1/catalog/prd_1', '/v1/orders', '/v2/nope', '/v1/webhooks/test'], ri),
    arrayElement(['catalog.list', 'orders.create', 'orders.get', 'balance.get', 'catalog.get', 'orders.list', 'unknown', 'webhooks.test'], ri),
    toUInt16(multiIf(r < 3, 404, r < 5, 401, r < 7, 500, 200)),
    toUInt64(1000 + h %% 200000), toUInt64(800 + h %% 160000), toUInt64(200), '203.0.113.7', 'bench',
    toUInt64(100), toUInt64(1000 + h %% 5000), if(r >= 3 AND r < 5, 'deny', 'allow'),
    if(r >= 3 AND r < 5, 'invalid_key', ''), toUInt8(1), now()
FROM (
    SELECT number, intHash32(number) AS h, intHash32(number + 1) %% 100 AS r,
        toUInt8(intHash32(number + 2) %% 8 + 1) AS ri,
        toUInt64(%[5]d + intDiv(number, %[4]d) * %[6]d + intHash32(number + 3) %% %[6]d) AS ms
    FROM numbers(%[2]d, %[3]d)
)`, warehouse.QuoteIdentifier(database), offset, count, s.Partners, s.Start.UnixMilli(), s.stepMs())
}

// OrderSeed describes synthetic order events for benchmarks, generated on the server:
// Orders orders of Partners partners spread evenly over [Start, Start+Span), each with an
// order.created event and, an hour later, order.completed (one in ten order.failed); a
// quarter live, three products, amounts of 5 to 500 USD in cents.
type OrderSeed struct {
	// Orders is the number of orders (two events each); Partners divides it.
	Orders int
	// Partners is the number of partners (ptr_0 …).
	Partners int
	// Start and Span bound the orders' creation times.
	Start time.Time
	Span  time.Duration
}

// OrderEventsSQL generates the events of orders numbers [offset, offset+count) into
// database's order_events: order n is partner n % Partners's order number n / Partners.
func (s OrderSeed) OrderEventsSQL(database string, offset, count int) string {
	step := s.Span.Milliseconds() / int64(s.Orders/s.Partners)
	return fmt.Sprintf(`INSERT INTO %s.order_events (ts, occurred_at_ms, event_id, type, order_id, partner_id, workspace_id,
    environment, product_id, amount_cents, currency, failure_reason, order_created_at_ms, request_id, schema_version, ingested_at)
SELECT toDateTime(intDiv(at, 1000)), at, concat('evt_', toString(number), '_', t), t, concat('ord_', toString(number)),
    concat('ptr_', toString(number %% %[4]d)), concat('ws_', toString(number %% %[4]d)),
    if(h %% 4 = 0, 'live', 'test'), arrayElement(['amazon-us-25', 'steam-50', 'apple-10'], toUInt8(h %% 3 + 1)),
    toInt64(500 + h %% 49501), 'USD', if(t = 'order.failed', 'vendor_out_of_stock', ''), created,
    concat('req_', toString(number)), toUInt8(1), now()
FROM (
    SELECT number, h, created, t, if(t = 'order.created', created, created + 3600000) AS at
    FROM (
        SELECT number, intHash32(number) AS h,
            toInt64(%[5]d + intDiv(number, %[4]d) * %[6]d + intHash32(number + 1) %% %[6]d) AS created,
            arrayJoin(['order.created', if(intHash32(number + 2) %% 10 = 0, 'order.failed', 'order.completed')]) AS t
        FROM numbers(%[2]d, %[3]d)
    )
)`, warehouse.QuoteIdentifier(database), offset, count, s.Partners, s.Start.UnixMilli(), step)
}
