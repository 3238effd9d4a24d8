package growth

import (
	"cmp"
	"context"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/steller/platform/analytics/growthquery"
	"github.com/steller/platform/control-plane/fault"
)

// Report validates q and computes its report. Bad input is a fault.ErrValidation with
// the parameter it concerns; a store that cannot answer is a fault.ErrUnavailable.
func (s *Service) Report(ctx context.Context, q Query) (*GrowthReport, error) {
	sp, err := parse(q)
	if err != nil {
		return nil, err
	}
	if sp.source != "" {
		ok, err := s.sourceKnown(ctx, sp.source)
		if err != nil {
			return nil, s.unavailable(ctx, err)
		}
		if !ok {
			return nil, &fault.Error{Kind: fault.ErrValidation, Code: CodeUnknownSource, Field: "query.source", Value: sp.source,
				Message: "no partner signed up with referral code " + sp.source + " (none selects partners without one)"}
		}
	}
	// The partners come first: ClickHouse counts by their source and cohort. The other
	// reads are independent: run them at once, so the report waits for the slowest.
	partners, err := s.partners(ctx, sp.to)
	if err != nil {
		return nil, s.unavailable(ctx, err)
	}
	if sp.source != "" {
		for id, p := range partners {
			if p.source != sp.source {
				delete(partners, id)
			}
		}
	}
	segments := make([]growthquery.Segment, 0, len(partners))
	for _, p := range partners {
		segments = append(segments, growthquery.Segment{PartnerID: p.id, Source: p.source, Cohort: weekOf(p.created),
			InRange: !p.created.Before(sp.from)})
	}
	var (
		reaches []reach
		weekly  []growthquery.Active
		monthly []growthquery.Active
		orders  []growthquery.Order
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { reaches, err = s.milestones(gctx, sp.from, sp.to); return err })
	g.Go(func() (err error) {
		weekly, err = s.wh.ActivePartners(gctx, segments, growthquery.Week, sp.from, sp.to)
		return err
	})
	g.Go(func() (err error) {
		monthly, err = s.wh.ActivePartners(gctx, segments, growthquery.Month, sp.from, sp.to)
		return err
	})
	g.Go(func() (err error) { orders, err = s.wh.Orders(gctx, segments, sp.interval, sp.from, sp.to); return err })
	if err := g.Wait(); err != nil {
		return nil, s.unavailable(ctx, err)
	}
	c := newComputation(sp, partners, reaches)
	r := &GrowthReport{From: day(sp.from), To: day(sp.to), Interval: sp.interval, Source: cmp.Or(sp.source, Every)}
	r.Signups = c.signups()
	r.Funnel, r.TTFC = c.funnel()
	r.ActivePartners = c.active(weekly, monthly)
	r.LiveRevenue, r.SandboxVolume = c.orders(orders)
	r.Retention = c.retention(weekly)
	r.Signups, r.Funnel, r.TTFC = nonNil(r.Signups), nonNil(r.Funnel), nonNil(r.TTFC)
	r.ActivePartners = nonNil(r.ActivePartners)
	return r, nil
}

// nonNil makes an empty table an empty list, never null.
func nonNil[T any](rows []T) []T {
	if rows == nil {
		return []T{}
	}
	return rows
}

func (s *Service) unavailable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fault.Wrap(fault.ErrUnavailable, "", "the growth figures cannot be read right now; try again shortly", err)
}

// computation holds one report's partners and milestones.
type computation struct {
	sp       span
	partners map[string]*partner
	// inRange are the partners who signed up in the range, by id order.
	inRange []*partner
	// reached holds each partner's milestone times, by milestone index (zero: not reached).
	reached map[string][]time.Time
}

func newComputation(sp span, partners map[string]*partner, reaches []reach) *computation {
	c := &computation{sp: sp, partners: partners, reached: map[string][]time.Time{}}
	index := map[string]int{}
	for i, m := range Milestones {
		index[m] = i
	}
	for _, p := range partners {
		if !p.created.Before(sp.from) {
			c.inRange = append(c.inRange, p)
		}
	}
	slices.SortFunc(c.inRange, func(a, b *partner) int { return cmp.Compare(a.id, b.id) })
	for _, r := range reaches {
		if c.partners[r.partnerID] == nil {
			continue
		}
		times := c.reached[r.partnerID]
		if times == nil {
			times = make([]time.Time, len(Milestones))
			c.reached[r.partnerID] = times
		}
		times[index[r.milestone]] = r.at
	}
	return c
}

// milestoneAt is when p reached milestone i (signed_up: its signup), or zero.
func (c *computation) milestoneAt(p *partner, i int) time.Time {
	if i == 0 {
		return p.created
	}
	if t := c.reached[p.id]; t != nil {
		return t[i]
	}
	return time.Time{}
}

// segments are the segments the figures of a partner in cell count in, for the report's
// split.
func (c *computation) segments(cell growthquery.Cell) []GrowthSegment {
	var out []GrowthSegment
	split := c.sp.split
	if split == SplitAll || split == SplitTotal {
		out = append(out, GrowthSegment{Split: SplitTotal, Source: Every, Cohort: Every})
	}
	if split == SplitAll || split == SplitSource {
		out = append(out, GrowthSegment{Split: SplitSource, Source: cell.Source, Cohort: Every})
	}
	if split == SplitAll || split == SplitCohort {
		out = append(out, GrowthSegment{Split: SplitCohort, Source: Every, Cohort: day(cell.Cohort)})
	}
	return out
}

// cellOf is p's cell.
func (c *computation) cellOf(p *partner) growthquery.Cell {
	return growthquery.Cell{Source: p.source, Cohort: weekOf(p.created), InRange: !p.created.Before(c.sp.from)}
}

// baseSegments are the segments every table lists even without partners: the total.
func (c *computation) baseSegments() []GrowthSegment {
	if c.sp.split == SplitAll || c.sp.split == SplitTotal {
		return []GrowthSegment{{Split: SplitTotal, Source: Every, Cohort: Every}}
	}
	return nil
}

var splitOrder = map[string]int{SplitTotal: 0, SplitSource: 1, SplitCohort: 2}

func compareSegments(a, b GrowthSegment) int {
	return cmp.Or(cmp.Compare(splitOrder[a.Split], splitOrder[b.Split]), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Cohort, b.Cohort))
}

// sortedSegments returns the keys of m with base, sorted.
func sortedSegments[V any](m map[GrowthSegment]V, base []GrowthSegment) []GrowthSegment {
	seen := map[GrowthSegment]bool{}
	var out []GrowthSegment
	for _, s := range base {
		seen[s] = true
		out = append(out, s)
	}
	for s := range m {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	slices.SortFunc(out, compareSegments)
	return out
}

func ratio(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

// percentile is the nearest-rank percentile pct (1-100) of ds in seconds, or nil.
func percentile(ds []time.Duration, pct int) *float64 {
	if len(ds) == 0 {
		return nil
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := (pct*len(sorted) + 99) / 100 // ceil(pct/100 * n), in integers
	v := sorted[max(rank, 1)-1].Seconds()
	return &v
}

func (c *computation) bucketIndex(t time.Time) int {
	b := bucketStart(t, c.sp.interval)
	i, ok := slices.BinarySearchFunc(c.sp.buckets, b, time.Time.Compare)
	if !ok {
		return -1
	}
	return i
}

func (c *computation) signups() []SignupRow {
	type series []SignupRow
	bySeg := map[GrowthSegment]series{}
	get := func(s GrowthSegment) series {
		if bySeg[s] == nil {
			rows := make(series, len(c.sp.buckets))
			for i, b := range c.sp.buckets {
				rows[i] = SignupRow{GrowthSegment: s, Bucket: day(b)}
			}
			bySeg[s] = rows
		}
		return bySeg[s]
	}
	for _, s := range c.baseSegments() {
		get(s)
	}
	last := len(Milestones) - 1
	for _, p := range c.inRange {
		i := c.bucketIndex(p.created)
		activated := !c.milestoneAt(p, last).IsZero()
		for _, s := range c.segments(c.cellOf(p)) {
			rows := get(s)
			rows[i].Signups++
			if activated {
				rows[i].ActivatedSignups++
			}
		}
	}
	for id, t := range c.reached {
		at := t[last]
		if at.IsZero() || at.Before(c.sp.from) {
			continue
		}
		p := c.partners[id]
		i := c.bucketIndex(at)
		for _, s := range c.segments(c.cellOf(p)) {
			get(s)[i].Activations++
		}
	}
	var out []SignupRow
	for _, s := range sortedSegments(bySeg, nil) {
		for _, r := range bySeg[s] {
			r.ActivationRate = ratio(r.ActivatedSignups, r.Signups)
			out = append(out, r)
		}
	}
	return out
}

func (c *computation) funnel() ([]FunnelRow, []TTFCRow) {
	type acc struct {
		reached []int
		both    []int
		deltas  [][]time.Duration
		ttfc    []time.Duration
		signups int
	}
	n := len(Milestones)
	bySeg := map[GrowthSegment]*acc{}
	get := func(s GrowthSegment) *acc {
		if bySeg[s] == nil {
			bySeg[s] = &acc{reached: make([]int, n), both: make([]int, n), deltas: make([][]time.Duration, n)}
		}
		return bySeg[s]
	}
	for _, s := range c.baseSegments() {
		get(s)
	}
	call := slices.Index(Milestones, FirstSandboxCall)
	for _, p := range c.inRange {
		times := make([]time.Time, n)
		for i := range n {
			times[i] = c.milestoneAt(p, i)
		}
		for _, s := range c.segments(c.cellOf(p)) {
			a := get(s)
			a.signups++
			for i, t := range times {
				if t.IsZero() {
					continue
				}
				a.reached[i]++
				if i > 0 && !times[i-1].IsZero() {
					a.both[i]++
					a.deltas[i] = append(a.deltas[i], t.Sub(times[i-1]))
				}
			}
			if !times[call].IsZero() {
				a.ttfc = append(a.ttfc, times[call].Sub(p.created))
			}
		}
	}
	var funnel []FunnelRow
	var ttfc []TTFCRow
	for _, s := range sortedSegments(bySeg, nil) {
		a := bySeg[s]
		for i, m := range Milestones {
			row := FunnelRow{GrowthSegment: s, Step: i + 1, Milestone: m, Partners: a.reached[i]}
			if i > 0 {
				both := a.both[i]
				row.FromPrevious = &both
				row.Conversion = ratio(both, a.reached[i-1])
				row.MedianSecondsFromPrevious = percentile(a.deltas[i], 50)
			}
			funnel = append(funnel, row)
		}
		ttfc = append(ttfc, TTFCRow{GrowthSegment: s, Signups: a.signups, Partners: len(a.ttfc),
			P50Seconds: percentile(a.ttfc, 50), P90Seconds: percentile(a.ttfc, 90)})
	}
	return funnel, ttfc
}

// periods are the starts of the weeks or months that start in the range.
func (c *computation) periods(period string) []time.Time {
	b := bucketStart(c.sp.from, period)
	if b.Before(c.sp.from) {
		b = next(b, period)
	}
	var out []time.Time
	for ; b.Before(c.sp.to); b = next(b, period) {
		out = append(out, b)
	}
	return out
}

// active adds the cells' counts of distinct active partners up into segments: each
// partner is in one cell, so the counts of disjoint cells add.
func (c *computation) active(weekly, monthly []growthquery.Active) []ActiveRow {
	type key struct {
		seg    GrowthSegment
		period string
		bucket time.Time
	}
	counts := map[key]int{}
	segs := map[GrowthSegment]bool{}
	for period, rows := range map[string][]growthquery.Active{"week": weekly, "month": monthly} {
		for _, a := range rows {
			if a.Bucket.Before(c.sp.from) {
				continue // a month that starts before the range is not listed
			}
			for _, s := range c.segments(a.Cell) {
				segs[s] = true
				counts[key{s, period, a.Bucket}] += int(a.Partners)
			}
		}
	}
	var out []ActiveRow
	for _, s := range sortedSegments(segs, c.baseSegments()) {
		for _, period := range []string{"week", "month"} {
			for _, b := range c.periods(period) {
				out = append(out, ActiveRow{GrowthSegment: s, Period: period, Bucket: day(b),
					Partners: counts[key{s, period, b}], Partial: next(b, period).After(c.sp.to)})
			}
		}
	}
	return out
}

func (c *computation) orders(orders []growthquery.Order) ([]RevenueRow, []VolumeRow) {
	type key struct {
		seg      GrowthSegment
		env      string
		bucket   time.Time
		currency string
	}
	sums := map[key]*growthquery.Order{}
	for _, o := range orders {
		for _, s := range c.segments(o.Cell) {
			k := key{s, o.Environment, o.Bucket, o.Currency}
			if sums[k] == nil {
				sums[k] = &growthquery.Order{}
			}
			sums[k].Orders += o.Orders
			sums[k].Cents += o.Cents
		}
	}
	keys := make([]key, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(compareSegments(a.seg, b.seg), a.bucket.Compare(b.bucket), cmp.Compare(a.currency, b.currency))
	})
	revenue, volume := []RevenueRow{}, []VolumeRow{}
	for _, k := range keys {
		o := sums[k]
		switch k.env {
		case growthquery.EnvLive:
			revenue = append(revenue, RevenueRow{GrowthSegment: k.seg, Bucket: day(k.bucket), Currency: k.currency, OrdersCompleted: o.Orders, RevenueCents: o.Cents})
		case growthquery.EnvSandbox:
			volume = append(volume, VolumeRow{GrowthSegment: k.seg, Bucket: day(k.bucket), Currency: k.currency, OrdersCreated: o.Orders, VolumeCents: o.Cents})
		}
	}
	return revenue, volume
}

// retention reads, for each cohort of the range, how many of its partners were active in
// each week since: the weekly counts of its cells (whose cohort is the signup week) of
// partners who signed up in the range.
func (c *computation) retention(weekly []growthquery.Active) []RetentionRow {
	active := map[growthquery.Cell]map[time.Time]int{}
	for _, a := range weekly {
		if active[a.Cell] == nil {
			active[a.Cell] = map[time.Time]int{}
		}
		active[a.Cell][a.Bucket] += int(a.Partners)
	}
	type key struct {
		seg    GrowthSegment // Cohort set to the cohort
		cohort time.Time
	}
	type acc struct {
		size     int
		retained []int
	}
	cohorts := map[key]*acc{}
	sizes := map[growthquery.Cell]int{}
	for _, p := range c.inRange {
		sizes[c.cellOf(p)]++
	}
	for cell, size := range sizes {
		var segs []GrowthSegment
		if c.sp.split != SplitSource {
			segs = append(segs, GrowthSegment{Split: SplitTotal, Source: Every})
		}
		if c.sp.split == SplitAll || c.sp.split == SplitSource {
			segs = append(segs, GrowthSegment{Split: SplitSource, Source: cell.Source})
		}
		for _, s := range segs {
			s.Cohort = day(cell.Cohort)
			k := key{s, cell.Cohort}
			a := cohorts[k]
			if a == nil {
				a = &acc{}
				for w := cell.Cohort; w.Before(c.sp.to); w = w.AddDate(0, 0, 7) {
					a.retained = append(a.retained, 0)
				}
				cohorts[k] = a
			}
			a.size += size
			for i := range a.retained {
				a.retained[i] += active[cell][cell.Cohort.AddDate(0, 0, 7*i)]
			}
		}
	}
	keys := make([]key, 0, len(cohorts))
	for k := range cohorts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return compareSegments(a.seg, b.seg) })
	out := []RetentionRow{}
	for _, k := range keys {
		a := cohorts[k]
		for i, n := range a.retained {
			start := k.cohort.AddDate(0, 0, 7*i)
			out = append(out, RetentionRow{GrowthSegment: k.seg, Week: i, WeekStart: day(start), CohortSize: a.size, Retained: n,
				Rate: ratio(n, a.size), Partial: start.AddDate(0, 0, 7).After(c.sp.to)})
		}
	}
	return out
}
