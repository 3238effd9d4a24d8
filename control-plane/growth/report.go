package growth

// GrowthSegment says which partners a row counts: all of them (split total), those of one
// referral source (split source) or those who signed up in one UTC week (split cohort).
type GrowthSegment struct {
	Split  string `json:"split" enum:"total,source,cohort" doc:"Which partners the row counts: all, one referral source, or one weekly signup cohort."`
	Source string `json:"source" doc:"The referral code the partners signed up with, none (no code), or all."`
	Cohort string `json:"cohort" doc:"The Monday (YYYY-MM-DD, UTC) of the week the partners signed up, or all."`
}

// SignupRow is one interval's signups and activations.
type SignupRow struct {
	GrowthSegment
	Bucket           string   `json:"bucket" doc:"Start of the interval (YYYY-MM-DD, UTC)."`
	Signups          int      `json:"signups" doc:"Partners who signed up in the interval."`
	Activations      int      `json:"activations" doc:"Partners who reached first_live_order in the interval, whenever they signed up."`
	ActivatedSignups int      `json:"activated_signups" doc:"Partners who signed up in the interval and reached first_live_order before the report's end."`
	ActivationRate   *float64 `json:"activation_rate" doc:"activated_signups / signups; null without signups."`
}

// FunnelRow is one milestone of the funnel of the partners who signed up in the range.
type FunnelRow struct {
	GrowthSegment
	Step                      int      `json:"step" doc:"1 (signed_up) to 10 (first_live_order)."`
	Milestone                 string   `json:"milestone"`
	Partners                  int      `json:"partners" doc:"Partners who reached this milestone before the report's end."`
	FromPrevious              *int     `json:"from_previous" doc:"Partners who reached both the previous milestone and this one; null on the first step."`
	Conversion                *float64 `json:"conversion" doc:"from_previous / partners of the previous step; null on the first step or when the previous step has none."`
	MedianSecondsFromPrevious *float64 `json:"median_seconds_from_previous" doc:"Median (nearest rank) of this milestone's time minus the previous one's, over from_previous; null when none."`
}

// TTFCRow is the time to first call (signup to first 2xx sandbox call) of the partners
// who signed up in the range.
type TTFCRow struct {
	GrowthSegment
	Signups    int      `json:"signups" doc:"Partners who signed up in the range."`
	Partners   int      `json:"partners" doc:"Of them, those who made a first sandbox call before the report's end."`
	P50Seconds *float64 `json:"p50_seconds" doc:"50th percentile (nearest rank) in seconds; null when partners is 0."`
	P90Seconds *float64 `json:"p90_seconds" doc:"90th percentile (nearest rank) in seconds; null when partners is 0."`
}

// ActiveRow is the number of partners with at least one 2xx call in one week or month.
type ActiveRow struct {
	GrowthSegment
	Period   string `json:"period" enum:"week,month"`
	Bucket   string `json:"bucket" doc:"Monday of the week or first day of the month (YYYY-MM-DD, UTC)."`
	Partners int    `json:"partners" doc:"Partners with at least one 2xx request at the edge (either environment)."`
	Partial  bool   `json:"partial" doc:"The period ends after the report's end: only its days before the end count."`
}

// RevenueRow is one interval's live revenue in one currency.
type RevenueRow struct {
	GrowthSegment
	Bucket          string `json:"bucket" doc:"Start of the interval (YYYY-MM-DD, UTC)."`
	Currency        string `json:"currency"`
	OrdersCompleted uint64 `json:"orders_completed" doc:"Live orders completed in the interval."`
	RevenueCents    int64  `json:"revenue_cents" doc:"Their face value in minor units of currency."`
}

// VolumeRow is one interval's sandbox order volume in one currency.
type VolumeRow struct {
	GrowthSegment
	Bucket        string `json:"bucket" doc:"Start of the interval (YYYY-MM-DD, UTC)."`
	Currency      string `json:"currency"`
	OrdersCreated uint64 `json:"orders_created" doc:"Sandbox (test) orders created in the interval."`
	VolumeCents   int64  `json:"volume_cents" doc:"Their face value in minor units of currency (fake money)."`
}

// RetentionRow is one weekly cohort's retention in one week since its signup week.
type RetentionRow struct {
	GrowthSegment
	Week       int      `json:"week" doc:"Weeks since the cohort's signup week (0 is that week)."`
	WeekStart  string   `json:"week_start" doc:"Monday of that week (YYYY-MM-DD, UTC)."`
	CohortSize int      `json:"cohort_size" doc:"Partners of the cohort (those who signed up in the range)."`
	Retained   int      `json:"retained" doc:"Of them, those with at least one 2xx request at the edge that week."`
	Rate       *float64 `json:"rate" doc:"retained / cohort_size."`
	Partial    bool     `json:"partial" doc:"The week ends after the report's end: only its days before the end count."`
}

// GrowthReport is one growth report. Every table's rows are ordered by segment (total,
// then sources, then cohorts) and then by time. It and GrowthSegment carry the package's
// name because Huma names OpenAPI schemas by type name across the whole API, where a
// bare Report or Segment would clash with other packages' types.
type GrowthReport struct {
	From           string         `json:"from" doc:"Start of the report (YYYY-MM-DD, UTC): the given from, moved back to the start of its interval."`
	To             string         `json:"to" doc:"End of the report, exclusive: the given to, moved on to the end of the interval holding its last day."`
	Interval       string         `json:"interval" enum:"day,week,month"`
	Source         string         `json:"source" doc:"The source filter, or all."`
	Signups        []SignupRow    `json:"signups" doc:"Table signups: per interval."`
	Funnel         []FunnelRow    `json:"funnel" doc:"Table funnel: the partners who signed up in the range, by milestone."`
	TTFC           []TTFCRow      `json:"ttfc" doc:"Table ttfc: time to first call of the partners who signed up in the range."`
	ActivePartners []ActiveRow    `json:"active_partners" doc:"Table active_partners: weekly and monthly active partners, for the weeks and months starting in the range."`
	LiveRevenue    []RevenueRow   `json:"live_revenue" doc:"Table live_revenue: completed live orders per interval and currency (rows without orders are absent)."`
	SandboxVolume  []VolumeRow    `json:"sandbox_volume" doc:"Table sandbox_volume: created sandbox orders per interval and currency (rows without orders are absent)."`
	Retention      []RetentionRow `json:"retention" doc:"Table retention: weekly signup cohorts of the range by weeks since signup (split total or source)."`
}

// Tables are the names of the report's tables, as the table parameter takes them.
var Tables = []string{"signups", "funnel", "ttfc", "active_partners", "live_revenue", "sandbox_volume", "retention"}

// table returns the rows of the named table (one of Tables).
func (r *GrowthReport) table(name string) any {
	switch name {
	case "signups":
		return r.Signups
	case "funnel":
		return r.Funnel
	case "ttfc":
		return r.TTFC
	case "active_partners":
		return r.ActivePartners
	case "live_revenue":
		return r.LiveRevenue
	case "sandbox_volume":
		return r.SandboxVolume
	case "retention":
		return r.Retention
	}
	return nil
}
