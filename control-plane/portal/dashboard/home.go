package dashboard

import (
	"net/http"

	"github.com/steller/platform/control-plane/onboarding"
	"github.com/steller/platform/control-plane/rbac"
	"github.com/steller/platform/control-plane/webhook"
)

// reachable reports whether path is a signed-in page that exists and m may use; the
// checklist links a step's portal page only then, and its guide otherwise.
func reachable(m *member, path string) bool {
	switch path {
	case "/app":
		return true
	case "/app/console":
		return m.MayConsole
	case "/app/webhooks":
		return m.MayWebhooks
	case "/app/keys":
		return m.MayConsole // the steps there create a key: keys.manage, like the console
	}
	return false
}

// homeData is the dashboard's.
type homeData struct {
	Onboarding onboarding.Onboarding
	Steps      []stepView
	// Next is the next step's link: its portal page when there is one, else its guide.
	Next     *onboarding.NextStep
	NextLink string
	// Stuck is the stuck hint (only for roles that may read request logs).
	Stuck *onboarding.StuckHint
	// DisabledHooks are the endpoints Steller disabled (roles that manage webhooks).
	DisabledHooks []webhook.Endpoint
}

// stepView is one checklist line.
type stepView struct {
	onboarding.Step
	// Page is the step's portal page, when it exists.
	Page string
	// IsNext marks the next step.
	IsNext bool
}

// home is /app: the onboarding checklist of GET /v1/onboarding, with the same
// authorization (workspace.read, and logs.read for the stuck hint).
func (d *Dashboard) home(w http.ResponseWriter, r *http.Request) {
	m := d.authorize(w, r, rbac.WorkspaceRead)
	if m == nil {
		return
	}
	o, err := d.cfg.Onboarding.Get(r.Context(), m.PartnerID, m.MayLogs)
	if err != nil {
		d.fail(w, r, m, err)
		return
	}
	data := homeData{Onboarding: o, Next: o.Next}
	for _, s := range o.Checklist {
		v := stepView{Step: s, IsNext: o.Next != nil && s.Milestone == o.Next.Milestone}
		if reachable(m, s.Portal) {
			v.Page = s.Portal
		}
		data.Steps = append(data.Steps, v)
	}
	if o.Next != nil {
		data.NextLink = o.Next.Doc
		if reachable(m, o.Next.Portal) {
			data.NextLink = o.Next.Portal
		}
	}
	if m.MayLogs {
		data.Stuck = o.Stuck
	}
	if data.DisabledHooks, err = d.disabledHooks(r, m); err != nil {
		d.fail(w, r, m, err)
		return
	}
	d.render(w, r, http.StatusOK, "home", d.newView("Dashboard", "app", m, data))
}
