package growth

import (
	"fmt"
	"time"

	"github.com/steller/platform/analytics/growthquery"
	"github.com/steller/platform/control-plane/fault"
)

// Limits of one report.
const (
	// MaxBuckets is the most intervals one report spans: finer intervals over a longer
	// range are refused (interval_too_fine) rather than answered with a huge table.
	MaxBuckets = 400
	// MaxDays is the longest range of one report, whatever the interval (about ten years).
	MaxDays = 3660
)

// Splits say which segments a report's rows are given for.
const (
	// SplitAll gives every figure for all partners, per referral source and per cohort.
	SplitAll = "all"
	// SplitTotal gives every figure for all partners (of the source filter) together.
	SplitTotal = "total"
	// SplitSource gives every figure per referral source.
	SplitSource = "source"
	// SplitCohort gives every figure per weekly signup cohort.
	SplitCohort = "cohort"
)

// SourceNone is the source of partners who signed up without a referral code.
const SourceNone = "none"

// Every is the value of a segment column a row is not split by.
const Every = "all"

// Problem codes of bad growth queries (README.md, "Problem codes"); all are 422.
const (
	// CodeInvalidRange: to is not after from, or the range is longer than MaxDays.
	CodeInvalidRange = "invalid_range"
	// CodeIntervalTooFine: the range holds more than MaxBuckets intervals.
	CodeIntervalTooFine = "interval_too_fine"
	// CodeUnknownSource: no partner signed up with the source's referral code.
	CodeUnknownSource = "unknown_source"
)

// Query is one report's parameters, as the API takes them.
type Query struct {
	// From and To are UTC days (YYYY-MM-DD): From inclusive, To exclusive.
	From, To string
	// Interval is day, week or month.
	Interval string
	// Source limits the partners to one referral code, or SourceNone; empty is all.
	Source string
	// Split is SplitAll (default when empty), SplitTotal, SplitSource or SplitCohort.
	Split string
}

// span is a validated query: the range widened to whole intervals.
type span struct {
	from, to time.Time // UTC midnights, on interval boundaries
	interval string
	source   string
	split    string
	buckets  []time.Time
}

// parse validates q (all but the source's existence) and widens its range to whole
// intervals: From down to the start of its interval, To up to the end of the interval
// that holds its last day.
func parse(q Query) (span, error) {
	s := span{interval: q.Interval, source: q.Source, split: q.Split}
	if s.split == "" {
		s.split = SplitAll
	}
	switch s.split {
	case SplitAll, SplitTotal, SplitSource, SplitCohort:
	default:
		return s, fault.Invalid("query.split", "split must be all, total, source or cohort", q.Split)
	}
	switch s.interval {
	case growthquery.Day, growthquery.Week, growthquery.Month:
	default:
		return s, fault.Invalid("query.interval", "interval must be day, week or month", q.Interval)
	}
	from, err := time.Parse(time.DateOnly, q.From)
	if err != nil {
		return s, fault.Invalid("query.from", "from must be a day, YYYY-MM-DD", q.From)
	}
	to, err := time.Parse(time.DateOnly, q.To)
	if err != nil {
		return s, fault.Invalid("query.to", "to must be a day, YYYY-MM-DD", q.To)
	}
	if !from.Before(to) {
		return s, &fault.Error{Kind: fault.ErrValidation, Code: CodeInvalidRange, Field: "query.to", Value: q.To,
			Message: fmt.Sprintf("to (%s) must be a day after from (%s): the range holds from, not to", q.To, q.From)}
	}
	if days := int(to.Sub(from).Hours() / 24); days > MaxDays {
		return s, &fault.Error{Kind: fault.ErrValidation, Code: CodeInvalidRange, Field: "query.to", Value: q.To,
			Message: fmt.Sprintf("the range spans %d days, at most %d", days, MaxDays)}
	}
	s.from = bucketStart(from, s.interval)
	s.to = bucketStart(to.AddDate(0, 0, -1), s.interval)
	for b := s.from; !b.After(s.to); b = next(b, s.interval) {
		if len(s.buckets) == MaxBuckets {
			return s, &fault.Error{Kind: fault.ErrValidation, Code: CodeIntervalTooFine, Field: "query.interval", Value: q.Interval,
				Message: fmt.Sprintf("the range holds more than %d %ss: choose a coarser interval or a shorter range", MaxBuckets, s.interval)}
		}
		s.buckets = append(s.buckets, b)
	}
	s.to = next(s.to, s.interval)
	return s, nil
}

// bucketStart is the start of the interval holding t's UTC day.
func bucketStart(t time.Time, interval string) time.Time {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch interval {
	case growthquery.Week:
		return weekOf(d)
	case growthquery.Month:
		return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return d
}

// next is the start of the interval after the one starting at b.
func next(b time.Time, interval string) time.Time {
	switch interval {
	case growthquery.Week:
		return b.AddDate(0, 0, 7)
	case growthquery.Month:
		return b.AddDate(0, 1, 0)
	}
	return b.AddDate(0, 0, 1)
}

// weekOf is the UTC Monday of t's week.
func weekOf(t time.Time) time.Time {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// day formats a UTC day.
func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }
