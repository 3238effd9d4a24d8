package webhook

import "github.com/steller/platform/control-plane/pgdb"

// SQL of the webhook store. Every query of a partner's data is scoped by partner and
// workspace, so another tenant's ids are simply not found.
const (
	endpointColumns = `id, environment, url, description, event_types, enabled, disabled_reason,
	previous_expires_at, created_at, updated_at`

	insertEndpointSQL = `INSERT INTO webhook_endpoints (id, partner_id, workspace_id, environment, url, description,
	event_types, enabled, secret, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
RETURNING ` + endpointColumns

	// lockWorkspaceSQL serializes endpoint creations of one workspace, so the count after it
	// sees every endpoint committed before. FOR NO KEY UPDATE: inserts referencing the
	// workspace take FOR KEY SHARE and do not wait on it. Its own statement: in READ
	// COMMITTED a statement that waited for a lock reads the snapshot it started with.
	lockWorkspaceSQL = `SELECT id FROM workspaces WHERE id = $1 AND partner_id = $2 FOR NO KEY UPDATE`

	// countEndpointsSQL counts the workspace's endpoints that EndpointLimit caps.
	countEndpointsSQL = `SELECT count(*) FROM webhook_endpoints WHERE partner_id = $1 AND workspace_id = $2 AND deleted_at IS NULL`

	getEndpointSQL = `SELECT ` + endpointColumns + ` FROM webhook_endpoints
WHERE id = $1 AND partner_id = $2 AND workspace_id = $3 AND deleted_at IS NULL`

	listEndpointsSQL = `SELECT ` + endpointColumns + ` FROM webhook_endpoints
WHERE partner_id = $1 AND workspace_id = $2 AND deleted_at IS NULL AND (created_at, id) < ($3, $4)
ORDER BY created_at DESC, id DESC LIMIT $5`

	updateEndpointSQL = `UPDATE webhook_endpoints SET
	url = coalesce($4, url), description = coalesce($5, description), event_types = coalesce($6, event_types),
	enabled = coalesce($7, enabled),
	disabled_reason = CASE WHEN $7::boolean THEN '' ELSE disabled_reason END,
	failing_since = CASE WHEN $7::boolean THEN NULL ELSE failing_since END,
	updated_at = $8
WHERE id = $1 AND partner_id = $2 AND workspace_id = $3 AND deleted_at IS NULL
RETURNING ` + endpointColumns

	deleteEndpointSQL = `UPDATE webhook_endpoints SET deleted_at = $4, enabled = false, updated_at = $4
WHERE id = $1 AND partner_id = $2 AND workspace_id = $3 AND deleted_at IS NULL`

	rotateSecretSQL = `UPDATE webhook_endpoints SET previous_secret = secret, previous_expires_at = $5,
	secret = $4, updated_at = $6
WHERE id = $1 AND partner_id = $2 AND workspace_id = $3 AND deleted_at IS NULL
RETURNING ` + endpointColumns

	// subscribersSQL finds the enabled endpoints of a tenant and environment subscribed
	// to an event type.
	subscribersSQL = `SELECT id FROM webhook_endpoints
WHERE partner_id = $1 AND workspace_id = $2 AND environment = $3 AND $4 = ANY (event_types)
	AND enabled AND deleted_at IS NULL`

	insertDeliverySQL = `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, partner_id, workspace_id,
	event_type, payload, created_at, updated_at, next_attempt_at, request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $9)
ON CONFLICT (event_id, endpoint_id) DO NOTHING`

	deliveryColumns = `id, event_id, endpoint_id, event_type, status, attempts, last_status_code, last_error,
	next_attempt_at, created_at, updated_at, delivered_at`

	getDeliverySQL = `SELECT ` + deliveryColumns + ` FROM webhook_deliveries
WHERE id = $1 AND partner_id = $2 AND workspace_id = $3`

	// requestDeliveriesSQL lists the deliveries of the order events one edge request caused.
	requestDeliveriesSQL = `SELECT ` + deliveryColumns + ` FROM webhook_deliveries
WHERE partner_id = $1 AND workspace_id = $2 AND request_id = $3 AND request_id <> ''
ORDER BY created_at, id LIMIT 100`

	listDeliveriesSQL = `SELECT ` + deliveryColumns + ` FROM webhook_deliveries
WHERE partner_id = $1 AND workspace_id = $2 AND (created_at, id) < ($3, $4)
	AND ($5 = '' OR endpoint_id = $5) AND ($6 = '' OR event_type = $6) AND ($7 = '' OR status = $7)
	AND ($8::timestamptz IS NULL OR created_at >= $8) AND ($9::timestamptz IS NULL OR created_at < $9)
ORDER BY created_at DESC, id DESC LIMIT $10`

	listAttemptsSQL = `SELECT attempt, at, status_code, latency_ms, response_excerpt, error
FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id`

	// requeueSQL puts a finished delivery back to pending for a manual redelivery.
	requeueSQL = `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $4, updated_at = $4
WHERE id = $1 AND partner_id = $2 AND workspace_id = $3 AND status <> 'pending'`

	requeueFailedSQL = `UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = $5, updated_at = $5
FROM webhook_endpoints e
WHERE d.endpoint_id = e.id AND e.deleted_at IS NULL
	AND d.partner_id = $1 AND d.workspace_id = $2 AND d.status = 'failed' AND d.created_at >= $3
	AND ($4 = '' OR d.endpoint_id = $4)
RETURNING d.id`

	// Worker queries.
	loadAttemptSQL = `SELECT d.id, d.event_id, d.payload, d.status, d.partner_id, d.workspace_id, d.endpoint_id,
	e.url, e.secret, e.previous_secret, e.previous_expires_at, e.enabled AND e.deleted_at IS NULL, e.failing_since
FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1`

	insertAttemptSQL = `INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, latency_ms, response_excerpt, error)
VALUES ($1, (SELECT attempts + 1 FROM webhook_deliveries WHERE id = $1), $2, $3, $4, $5, $6)`

	attemptDoneSQL = `UPDATE webhook_deliveries SET attempts = attempts + 1, status = $2, last_status_code = $3,
	last_error = $4, next_attempt_at = $5, updated_at = $6,
	delivered_at = CASE WHEN $2 = 'delivered' THEN $6 ELSE delivered_at END
WHERE id = $1`

	endpointSucceededSQL = `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`

	endpointFailedSQL = `UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $2) WHERE id = $1
RETURNING failing_since`

	disableEndpointSQL = `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = $3
WHERE id = $1 AND enabled`

	cancelDeliverySQL = `UPDATE webhook_deliveries SET status = 'failed', last_error = $2, next_attempt_at = NULL,
	updated_at = $3 WHERE id = $1 AND status = 'pending'`

	insertNotificationSQL = `INSERT INTO webhook_notifications (partner_id, workspace_id, kind, endpoint_id, details, created_at)
VALUES ($1, $2, $3, $4, $5, $6)`
)

// interpretError translates pgx errors into fault kinds (pgdb.Translate).
func interpretError(err error) error {
	return pgdb.Translate(err, pgdb.Messages{})
}
