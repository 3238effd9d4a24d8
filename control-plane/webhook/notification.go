package webhook

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/page"
)

// NotificationEndpointDisabled is the kind of the notification written when Steller
// disables an endpoint (410 Gone, or failing without a success for FailingLimit).
const NotificationEndpointDisabled = "endpoint.disabled"

// Notification tells a partner something about its webhooks that it did not ask for.
type Notification struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind" doc:"endpoint.disabled: Steller turned an endpoint off; details say why."`
	EndpointID string          `json:"endpoint_id"`
	Details    json.RawMessage `json:"details"`
	CreatedAt  time.Time       `json:"created_at"`
}

// NotificationPage is one page of notifications, newest first.
type NotificationPage struct {
	Notifications []Notification
	NextCursor    string
}

// notificationCursor is the id of a page's last notification.
type notificationCursor struct {
	ID int64 `json:"id"`
}

const listNotificationsSQL = `SELECT id, kind, endpoint_id, details, created_at FROM webhook_notifications
WHERE partner_id = $1 AND workspace_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4`

// ListNotifications returns a page of the caller's webhook notifications, newest first.
func (s *Service) ListNotifications(ctx context.Context, p auth.Principal, after string, limit int) (NotificationPage, error) {
	var c notificationCursor
	ok, err := page.Decode(after, &c)
	if err != nil {
		return NotificationPage{}, err
	}
	if !ok {
		c.ID = math.MaxInt64
	} else if c.ID <= 0 {
		return NotificationPage{}, page.Invalid(after)
	}
	rows, err := s.pool.Query(ctx, listNotificationsSQL, p.PartnerID, p.WorkspaceID, c.ID, limit+1)
	if err != nil {
		return NotificationPage{}, interpretError(err)
	}
	var ids []int64
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		var id int64
		err := r.Scan(&id, &n.Kind, &n.EndpointID, &n.Details, &n.CreatedAt)
		n.ID = "whn_" + strconv.FormatInt(id, 10)
		ids = append(ids, id)
		return n, err
	})
	if err != nil {
		return NotificationPage{}, interpretError(err)
	}
	res := NotificationPage{Notifications: out}
	if len(out) > limit {
		res.Notifications = out[:limit]
		res.NextCursor = page.Encode(notificationCursor{ID: ids[limit-1]})
	}
	return res, nil
}
