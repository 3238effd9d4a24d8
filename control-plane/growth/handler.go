package growth

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/rbac"
)

// Path is the growth report's path.
const Path = "/v1/admin/growth"

// Deps are what the growth operation needs.
type Deps struct {
	// Growth computes reports (required).
	Growth *Service
	// RBAC decides admin.growth.read (required).
	RBAC rbac.Checker
}

// Input is the growth report's parameters. It is exported so Huma applies its defaults
// and enums.
type Input struct {
	From     string `query:"from" required:"true" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"First day (YYYY-MM-DD, UTC), moved back to the start of its interval." example:"2026-01-05"`
	To       string `query:"to" required:"true" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"Day after the last (YYYY-MM-DD, UTC, exclusive), moved on to the end of the interval holding the last day." example:"2026-04-06"`
	Interval string `query:"interval" required:"true" enum:"day,week,month" doc:"Bucket of the per-interval tables; at most 400 buckets in the range."`
	Source   string `query:"source" maxLength:"64" pattern:"^[^\\x00-\\x1f\\x7f-\\x9f]*$" doc:"Only partners who signed up with this referral code, or none for those without one; a code no partner used is a 422 unknown_source."`
	Split    string `query:"split" enum:"all,total,source,cohort" default:"all" doc:"Rows for all partners (total), per referral source (source), per weekly signup cohort (cohort), or all three (all)."`
	Format   string `query:"format" enum:"json,csv" doc:"csv returns one table as text/csv (as Accept: text/csv does); wins over Accept."`
	Table    string `query:"table" enum:"signups,funnel,ttfc,active_partners,live_revenue,sandbox_volume,retention" doc:"The table a CSV answer carries (required for CSV; JSON always carries every table)."`
	Accept   string `header:"Accept" hidden:"true"`
}

type output struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

// wantsCSV reports whether the answer is CSV: format=csv, or (without format) an Accept
// header that ranks text/csv above application/json.
func (in *Input) wantsCSV() bool {
	if in.Format != "" {
		return in.Format == "csv"
	}
	best, bestQ := "", 0.0
	for _, part := range strings.Split(in.Accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		switch mt {
		case "text/csv", "application/json", "application/*", "*/*":
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = mt, q
		}
	}
	return best == "text/csv"
}

// Register adds GET /v1/admin/growth to api.
func Register(api huma.API, d Deps) {
	if d.Growth == nil || d.RBAC == nil {
		panic(errors.New("growth.Register: Deps.Growth and Deps.RBAC are required"))
	}
	schema := api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(GrowthReport{}), true, "GrowthReport")
	huma.Register(api, huma.Operation{
		OperationID: "get-growth", Method: http.MethodGet, Path: Path, Tags: []string{"Admin: analytics"},
		Summary: "Growth metrics",
		Description: "Signups, activations (first_live_order) and the activation rate per interval; the funnel of the " +
			"partners who signed up in the range by milestone, with step-to-step conversion and the median time between " +
			"steps; time to first call (p50, p90); weekly and monthly active partners (any 2xx call at the edge); live " +
			"revenue and sandbox volume, kept apart; and weekly cohort retention. Every table is split by referral source " +
			"and weekly signup cohort (split). Percentiles and medians are nearest-rank. Milestones and activity after `to` " +
			"do not count. JSON carries every table; CSV (`format=csv` or `Accept: text/csv`) carries the one named by " +
			"`table`, for example `table=funnel`, with a header of the JSON field names.",
		Responses: map[string]*huma.Response{
			"200": {Description: "The report.", Content: map[string]*huma.MediaType{
				"application/json": {Schema: schema},
				"text/csv":         {Schema: &huma.Schema{Type: "string", Description: "One table (table=...), header first."}},
			}},
		},
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *Input) (*output, error) {
		if _, err := rbac.Authorize(ctx, d.RBAC, rbac.AdminGrowthRead); err != nil {
			return nil, err
		}
		csv := in.wantsCSV()
		if csv && in.Table == "" {
			return nil, fault.Invalid("query.table", "a CSV answer carries one table: name it with table (one of "+strings.Join(Tables, ", ")+")", "")
		}
		r, err := d.Growth.Report(ctx, Query{From: in.From, To: in.To, Interval: in.Interval, Source: in.Source, Split: in.Split})
		if err != nil {
			return nil, err
		}
		if csv {
			body, err := r.CSV(in.Table)
			if err != nil {
				return nil, err
			}
			return &output{ContentType: "text/csv; charset=utf-8", Body: body,
				ContentDisposition: `attachment; filename="growth-` + in.Table + "-" + r.From + "-" + r.To + `.csv"`}, nil
		}
		body, err := jsonBody(r)
		if err != nil {
			return nil, err
		}
		return &output{ContentType: "application/json", Body: body}, nil
	})
}

// jsonBody encodes a report as the operation's JSON answer.
func jsonBody(r *GrowthReport) ([]byte, error) { return json.Marshal(r) }
