package growth_test

import (
	"slices"
	"time"

	"github.com/steller/platform/control-plane/growth"
)

// This file computes, from a world's raw rows and the documented definitions, the report
// the API must answer. It shares no code with the package: it filters the raw rows per
// segment and counts, where the package accumulates in one pass.

type params struct {
	from, to         time.Time // the report's widened range
	interval, source string    // source "" is all
	split            string
}

func startOf(t time.Time, interval string) time.Time {
	d := time.Date(t.UTC().Year(), t.UTC().Month(), t.UTC().Day(), 0, 0, 0, 0, time.UTC)
	switch interval {
	case "week":
		for d.Weekday() != time.Monday {
			d = d.AddDate(0, 0, -1)
		}
	case "month":
		d = d.AddDate(0, 0, 1-d.Day())
	}
	return d
}

func after(b time.Time, interval string) time.Time {
	switch interval {
	case "week":
		return b.AddDate(0, 0, 7)
	case "month":
		return b.AddDate(0, 1, 0)
	}
	return b.AddDate(0, 0, 1)
}

func ymd(t time.Time) string { return t.Format("2006-01-02") }

func sourceOf(p rawPartner) string {
	if p.code == "" {
		return "none"
	}
	return p.code
}

func in(t, from, to time.Time) bool { return !t.Before(from) && t.Before(to) }

func nearestRank(ds []time.Duration, pct int) *float64 {
	if len(ds) == 0 {
		return nil
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	for i, v := range s {
		if (i+1)*100 >= pct*len(s) {
			sec := v.Seconds()
			return &sec
		}
	}
	panic("unreachable")
}

func div(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	v := float64(n) / float64(d)
	return &v
}

// candidate is one segment and the partners in it.
type candidate struct {
	seg growth.GrowthSegment
	has func(rawPartner) bool
}

func candidates(ps []rawPartner, split string, kinds ...string) []candidate {
	var out []candidate
	want := func(k string) bool { return (split == "all" || split == k) && slices.Contains(kinds, k) }
	if want("total") {
		out = append(out, candidate{growth.GrowthSegment{Split: "total", Source: "all", Cohort: "all"}, func(rawPartner) bool { return true }})
	}
	var sources, cohorts []string
	for _, p := range ps {
		if s := sourceOf(p); !slices.Contains(sources, s) {
			sources = append(sources, s)
		}
		if c := ymd(startOf(p.created, "week")); !slices.Contains(cohorts, c) {
			cohorts = append(cohorts, c)
		}
	}
	slices.Sort(sources)
	slices.Sort(cohorts)
	if want("source") {
		for _, s := range sources {
			out = append(out, candidate{growth.GrowthSegment{Split: "source", Source: s, Cohort: "all"}, func(p rawPartner) bool { return sourceOf(p) == s }})
		}
	}
	if want("cohort") {
		for _, c := range cohorts {
			out = append(out, candidate{growth.GrowthSegment{Split: "cohort", Source: "all", Cohort: c}, func(p rawPartner) bool { return ymd(startOf(p.created, "week")) == c }})
		}
	}
	return out
}

func expected(w world, p params) growth.GrowthReport {
	r := growth.GrowthReport{From: ymd(p.from), To: ymd(p.to), Interval: p.interval, Source: "all"}
	if p.source != "" {
		r.Source = p.source
	}
	// The partners of the report: signed up before its end, of the source filter.
	var known []rawPartner
	for _, pt := range w.partners {
		if pt.created.Before(p.to) && (p.source == "" || sourceOf(pt) == p.source) {
			known = append(known, pt)
		}
	}
	var cohort []rawPartner // signed up in the range
	for _, pt := range known {
		if in(pt.created, p.from, p.to) {
			cohort = append(cohort, pt)
		}
	}
	reached := func(id, m string) (time.Time, bool) {
		for _, x := range w.milestones {
			if x.partnerID == id && x.milestone == m && x.at.Before(p.to) {
				return x.at, true
			}
		}
		return time.Time{}, false
	}
	at := func(pt rawPartner, m string) (time.Time, bool) {
		if m == "signed_up" {
			return pt.created, true
		}
		return reached(pt.id, m)
	}
	var buckets []time.Time
	for b := p.from; b.Before(p.to); b = after(b, p.interval) {
		buckets = append(buckets, b)
	}

	r.Signups = []growth.SignupRow{}
	for _, c := range candidates(known, p.split, "total", "source", "cohort") {
		var rows []growth.SignupRow
		any := false
		for _, b := range buckets {
			row := growth.SignupRow{GrowthSegment: c.seg, Bucket: ymd(b)}
			for _, pt := range known {
				if !c.has(pt) {
					continue
				}
				act, ok := reached(pt.id, "first_live_order")
				if ok && in(act, p.from, p.to) && startOf(act, p.interval).Equal(b) {
					row.Activations++
				}
				if in(pt.created, p.from, p.to) && startOf(pt.created, p.interval).Equal(b) {
					row.Signups++
					if ok {
						row.ActivatedSignups++
					}
				}
			}
			row.ActivationRate = div(row.ActivatedSignups, row.Signups)
			any = any || row.Signups > 0 || row.Activations > 0
			rows = append(rows, row)
		}
		if any || c.seg.Split == "total" {
			r.Signups = append(r.Signups, rows...)
		}
	}

	r.Funnel, r.TTFC = []growth.FunnelRow{}, []growth.TTFCRow{}
	for _, c := range candidates(cohort, p.split, "total", "source", "cohort") {
		var pop []rawPartner
		for _, pt := range cohort {
			if c.has(pt) {
				pop = append(pop, pt)
			}
		}
		if len(pop) == 0 && c.seg.Split != "total" {
			continue
		}
		prevCount := 0
		for i, m := range milestoneOrder {
			row := growth.FunnelRow{GrowthSegment: c.seg, Step: i + 1, Milestone: m}
			var both int
			var gaps []time.Duration
			for _, pt := range pop {
				t, ok := at(pt, m)
				if !ok {
					continue
				}
				row.Partners++
				if i > 0 {
					if prev, ok := at(pt, milestoneOrder[i-1]); ok {
						both++
						gaps = append(gaps, t.Sub(prev))
					}
				}
			}
			if i > 0 {
				row.FromPrevious = &both
				row.Conversion = div(both, prevCount)
				row.MedianSecondsFromPrevious = nearestRank(gaps, 50)
			}
			prevCount = row.Partners
			r.Funnel = append(r.Funnel, row)
		}
		var ttfc []time.Duration
		for _, pt := range pop {
			if t, ok := reached(pt.id, "first_sandbox_call"); ok {
				ttfc = append(ttfc, t.Sub(pt.created))
			}
		}
		r.TTFC = append(r.TTFC, growth.TTFCRow{GrowthSegment: c.seg, Signups: len(pop), Partners: len(ttfc),
			P50Seconds: nearestRank(ttfc, 50), P90Seconds: nearestRank(ttfc, 90)})
	}

	activeIn := func(pt rawPartner, from, to time.Time) bool {
		for _, q := range w.requests {
			if q.PartnerID == pt.id && q.Status >= 200 && q.Status < 300 && in(q.At, from, to) && in(q.At, p.from, p.to) {
				return true
			}
		}
		return false
	}
	r.ActivePartners = []growth.ActiveRow{}
	for _, c := range candidates(known, p.split, "total", "source", "cohort") {
		var rows []growth.ActiveRow
		any := false
		for _, period := range []string{"week", "month"} {
			b := startOf(p.from, period)
			if b.Before(p.from) {
				b = after(b, period)
			}
			for ; b.Before(p.to); b = after(b, period) {
				row := growth.ActiveRow{GrowthSegment: c.seg, Period: period, Bucket: ymd(b), Partial: after(b, period).After(p.to)}
				for _, pt := range known {
					if c.has(pt) && activeIn(pt, b, after(b, period)) {
						row.Partners++
					}
				}
				any = any || row.Partners > 0
				rows = append(rows, row)
			}
		}
		if any || c.seg.Split == "total" {
			r.ActivePartners = append(r.ActivePartners, rows...)
		}
	}

	seen := map[string]bool{}
	var events []struct {
		env, typ, currency, partner string
		day                         time.Time
		cents                       int64
	}
	for _, e := range w.events {
		if seen[e.EventID] {
			continue
		}
		seen[e.EventID] = true
		events = append(events, struct {
			env, typ, currency, partner string
			day                         time.Time
			cents                       int64
		}{e.Environment, e.Type, e.Currency, e.PartnerID, startOf(time.UnixMilli(e.OccurredAtMs), "day"), e.AmountCents})
	}
	r.LiveRevenue, r.SandboxVolume = []growth.RevenueRow{}, []growth.VolumeRow{}
	for _, c := range candidates(known, p.split, "total", "source", "cohort") {
		for _, b := range buckets {
			for _, cur := range []string{"EUR", "USD"} {
				var live, test growth.RevenueRow
				for _, e := range events {
					var pt *rawPartner
					for i := range known {
						if known[i].id == e.partner {
							pt = &known[i]
						}
					}
					if pt == nil || !c.has(*pt) || e.currency != cur || !in(e.day, p.from, p.to) || !startOf(e.day, p.interval).Equal(b) {
						continue
					}
					if e.env == "live" && e.typ == "order.completed" {
						live.OrdersCompleted++
						live.RevenueCents += e.cents
					}
					if e.env == "test" && e.typ == "order.created" {
						test.OrdersCompleted++
						test.RevenueCents += e.cents
					}
				}
				if live.OrdersCompleted > 0 {
					r.LiveRevenue = append(r.LiveRevenue, growth.RevenueRow{GrowthSegment: c.seg, Bucket: ymd(b), Currency: cur,
						OrdersCompleted: live.OrdersCompleted, RevenueCents: live.RevenueCents})
				}
				if test.OrdersCompleted > 0 {
					r.SandboxVolume = append(r.SandboxVolume, growth.VolumeRow{GrowthSegment: c.seg, Bucket: ymd(b), Currency: cur,
						OrdersCreated: test.OrdersCompleted, VolumeCents: test.RevenueCents})
				}
			}
		}
	}

	r.Retention = []growth.RetentionRow{}
	kinds := []string{"total", "source"}
	split := p.split
	if split == "cohort" {
		split = "total"
	}
	for _, c := range candidates(cohort, split, kinds...) {
		var weeks []string
		for _, pt := range cohort {
			if wk := ymd(startOf(pt.created, "week")); c.has(pt) && !slices.Contains(weeks, wk) {
				weeks = append(weeks, wk)
			}
		}
		slices.Sort(weeks)
		for _, wk := range weeks {
			var members []rawPartner
			for _, pt := range cohort {
				if c.has(pt) && ymd(startOf(pt.created, "week")) == wk {
					members = append(members, pt)
				}
			}
			first, _ := time.Parse("2006-01-02", wk)
			for k := 0; first.AddDate(0, 0, 7*k).Before(p.to); k++ {
				ws := first.AddDate(0, 0, 7*k)
				row := growth.RetentionRow{GrowthSegment: c.seg, Week: k, WeekStart: ymd(ws), CohortSize: len(members),
					Partial: ws.AddDate(0, 0, 7).After(p.to)}
				row.Cohort = wk
				for _, pt := range members {
					if activeIn(pt, ws, ws.AddDate(0, 0, 7)) {
						row.Retained++
					}
				}
				row.Rate = div(row.Retained, row.CohortSize)
				r.Retention = append(r.Retention, row)
			}
		}
	}
	return r
}
