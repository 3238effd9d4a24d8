package logquery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Store runs the log explorer's and usage queries on ClickHouse.
type Store struct {
	conn     driver.Conn
	database string
}

// New returns a Store on the tables of database.
func New(conn driver.Conn, database string) (*Store, error) {
	if conn == nil || database == "" {
		return nil, errors.New("logquery: a ClickHouse connection and database are required")
	}
	return &Store{conn: conn, database: database}, nil
}

// Page is one page of request logs, newest first.
type Page struct {
	// Rows are the page's requests.
	Rows []Row `json:"rows"`
	// Next is the cursor of the following page; nil on the last page.
	Next *Cursor `json:"next,omitempty"`
}

// Logs returns the page of f's requests after the cursor (nil: the first page), at most
// limit rows. Invalid input is a ValidationError.
func (s *Store) Logs(ctx context.Context, f Filter, after *Cursor, limit int) (Page, error) {
	if err := ValidatePage(f, after, limit); err != nil {
		return Page{}, err
	}
	sql, args := LogPage(s.database, f, after, limit)
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return Page{}, fmt.Errorf("logquery: logs: %w", err)
	}
	defer rows.Close()
	page := Page{Rows: make([]Row, 0, limit+1)}
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return Page{}, fmt.Errorf("logquery: logs: %w", err)
		}
		page.Rows = append(page.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("logquery: logs: %w", err)
	}
	if len(page.Rows) > limit {
		page.Rows = page.Rows[:limit]
		next := page.Rows[limit-1].Cursor()
		page.Next = &next
	}
	return page, nil
}

// Request returns one request of the partner; false when the partner has no such
// request (another partner's request is not found either).
func (s *Store) Request(ctx context.Context, partnerID, requestID string) (Row, bool, error) {
	var p problems
	if partnerID == "" {
		p.add("partner_id", "is required")
	}
	if requestID == "" || !cleanText(requestID, maxIDLen) {
		p.add("request_id", "must be printable text of 1 to %d bytes", maxIDLen)
	}
	if err := p.err(); err != nil {
		return Row{}, false, err
	}
	sql, args := GetRequest(s.database, partnerID, requestID)
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return Row{}, false, fmt.Errorf("logquery: request: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Row{}, false, fmt.Errorf("logquery: request: %w", err)
		}
		return Row{}, false, nil
	}
	r, err := scanRow(rows)
	if err != nil {
		return Row{}, false, fmt.Errorf("logquery: request: %w", err)
	}
	return r, true, nil
}

func scanRow(rows driver.Rows) (Row, error) {
	var r Row
	var ms uint64
	err := rows.Scan(&ms, &r.RequestID, &r.ClientRequestID, &r.PartnerID, &r.WorkspaceID, &r.KeyID, &r.Environment, &r.Method, &r.Path,
		&r.Route, &r.Status, &r.LatencyTotalUs, &r.LatencyUpstreamUs, &r.LatencyEdgeUs, &r.ClientIP, &r.UserAgent,
		&r.RequestBytes, &r.ResponseBytes, &r.Decision, &r.DenialCode, &r.SchemaVersion, &r.IngestedAt)
	r.Timestamp = time.UnixMilli(int64(ms)).UTC()
	r.IngestedAt = r.IngestedAt.UTC()
	return r, err
}

// Usage is the usage page's figures for one partner or all partners.
type Usage struct {
	// Interval is the series bucket size.
	Interval string `json:"interval"`
	// From and To are the range read: the query's range rounded out to whole minutes.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Series has one point per bucket and environment seen in the range, every bucket
	// present (zero when quiet), ordered by bucket then environment.
	Series []Point `json:"series"`
	// Environments totals the range per environment.
	Environments []EnvironmentUsage `json:"environments"`
	// Latency is the total latency's quantiles per route, ordered by route.
	Latency []RouteLatency `json:"latency"`
	// TopRoutes are the TopN routes by requests.
	TopRoutes []RouteUsage `json:"top_routes"`
	// TopErrors are the TopN (route, status) pairs with status 400 or above.
	TopErrors []ErrorUsage `json:"top_errors"`
}

// Point is one bucket of one environment.
type Point struct {
	// Bucket is the bucket's start (UTC).
	Bucket time.Time `json:"bucket"`
	// Environment is test or live.
	Environment string `json:"environment"`
	// Requests counts requests; Errors those with status 400 or above. Each request
	// counts once however often it was delivered.
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
}

// EnvironmentUsage totals one environment over the range.
type EnvironmentUsage struct {
	// Environment is test or live.
	Environment string `json:"environment"`
	// Requests and Errors count each request once; ErrorRate is Errors/Requests.
	Requests  uint64  `json:"requests"`
	Errors    uint64  `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
}

// RouteLatency is one route's total latency quantiles in microseconds. A redelivered
// request may weigh twice in them (the quantile states are not deduplicated).
type RouteLatency struct {
	// Route is the edge's route name.
	Route string `json:"route"`
	// P50Us, P95Us and P99Us are quantiles of the total latency.
	P50Us float64 `json:"p50_us"`
	P95Us float64 `json:"p95_us"`
	P99Us float64 `json:"p99_us"`
}

// RouteUsage is one route's requests and errors.
type RouteUsage struct {
	// Route is the edge's route name.
	Route string `json:"route"`
	// Requests counts the route's requests, Errors those with status 400 or above.
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
}

// ErrorUsage counts the requests of one route that ended with one error status.
type ErrorUsage struct {
	// Route is the edge's route name and Status the error status.
	Route  string `json:"route"`
	Status uint16 `json:"status"`
	// Requests counts the requests that ended so.
	Requests uint64 `json:"requests"`
}

// PartnerUsage is one partner's figures for admins.
type PartnerUsage struct {
	// PartnerID is the partner.
	PartnerID string `json:"partner_id"`
	// Requests and Errors count each request once; ErrorRate is Errors/Requests.
	Requests  uint64  `json:"requests"`
	Errors    uint64  `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	// P95Us is the p95 total latency in microseconds.
	P95Us float64 `json:"p95_us"`
}

func rate(errs, requests uint64) float64 {
	if requests == 0 {
		return 0
	}
	return float64(errs) / float64(requests)
}

// Usage returns the figures of q (one partner, or all partners when q.PartnerID is
// empty). Invalid input is a ValidationError.
func (s *Store) Usage(ctx context.Context, q UsageQuery) (Usage, error) {
	if err := q.Validate(); err != nil {
		return Usage{}, err
	}
	out := Usage{Interval: q.Interval}
	out.From, out.To = q.Window()
	var sparse []Point
	queries := []struct {
		build func(string, UsageQuery) (string, []any)
		scan  func(driver.Rows) error
	}{
		{UsageSeries, func(rows driver.Rows) error {
			var p Point
			err := rows.Scan(&p.Bucket, &p.Environment, &p.Requests, &p.Errors)
			sparse = append(sparse, p)
			return err
		}},
		{UsageRoutes, func(rows driver.Rows) error {
			var r RouteUsage
			var qs []float64
			if err := rows.Scan(&r.Route, &r.Requests, &r.Errors, &qs); err != nil {
				return err
			}
			if len(qs) != 3 {
				return fmt.Errorf("route %q: %d quantiles, want 3", r.Route, len(qs))
			}
			if len(out.TopRoutes) < TopN {
				out.TopRoutes = append(out.TopRoutes, r)
			}
			out.Latency = append(out.Latency, RouteLatency{Route: r.Route, P50Us: qs[0], P95Us: qs[1], P99Us: qs[2]})
			return nil
		}},
		{UsageTopErrors, func(rows driver.Rows) error {
			var e ErrorUsage
			err := rows.Scan(&e.Route, &e.Status, &e.Requests)
			out.TopErrors = append(out.TopErrors, e)
			return err
		}},
	}
	for _, uq := range queries {
		if err := s.each(ctx, uq.build, q, uq.scan); err != nil {
			return Usage{}, err
		}
	}
	slices.SortFunc(out.Latency, func(a, b RouteLatency) int { return strings.Compare(a.Route, b.Route) })
	out.Series = densify(q.Buckets(), sparse)
	out.Environments = totals(sparse)
	return out, nil
}

// each runs one usage query and calls scan for each row.
func (s *Store) each(ctx context.Context, build func(string, UsageQuery) (string, []any), q UsageQuery, scan func(driver.Rows) error) error {
	sql, args := build(s.database, q)
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("logquery: usage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("logquery: usage: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("logquery: usage: %w", err)
	}
	return nil
}

// densify returns one point per bucket for every environment in sparse, zero where
// sparse has none, ordered by bucket then environment (sparse is in that order).
func densify(buckets []time.Time, sparse []Point) []Point {
	var envs []string
	seen := map[string]bool{}
	got := map[int64]map[string]Point{} // by the bucket's Unix second
	for _, p := range sparse {
		p.Bucket = p.Bucket.UTC()
		if !seen[p.Environment] {
			seen[p.Environment] = true
			envs = append(envs, p.Environment)
		}
		if got[p.Bucket.Unix()] == nil {
			got[p.Bucket.Unix()] = map[string]Point{}
		}
		got[p.Bucket.Unix()][p.Environment] = p
	}
	slices.Sort(envs)
	out := make([]Point, 0, len(buckets)*len(envs))
	for _, b := range buckets {
		for _, env := range envs {
			p, ok := got[b.Unix()][env]
			if !ok {
				p = Point{Bucket: b, Environment: env}
			}
			out = append(out, p)
		}
	}
	return out
}

// totals sums the series per environment, in environment order.
func totals(series []Point) []EnvironmentUsage {
	var out []EnvironmentUsage
	index := map[string]int{}
	for _, p := range series {
		i, ok := index[p.Environment]
		if !ok {
			i = len(out)
			index[p.Environment] = i
			out = append(out, EnvironmentUsage{Environment: p.Environment})
		}
		out[i].Requests += p.Requests
		out[i].Errors += p.Errors
	}
	for i := range out {
		out[i].ErrorRate = rate(out[i].Errors, out[i].Requests)
	}
	slices.SortFunc(out, func(a, b EnvironmentUsage) int { return strings.Compare(a.Environment, b.Environment) })
	return out
}

// UsageByPartner returns every partner's figures over [from, to) (rounded out to whole
// minutes), busiest first, at most limit partners. Invalid input is a ValidationError.
func (s *Store) UsageByPartner(ctx context.Context, from, to time.Time, limit int) ([]PartnerUsage, error) {
	if err := ValidatePartnerUsage(from, to, limit); err != nil {
		return nil, err
	}
	sql, args := UsageByPartner(s.database, from, to, limit)
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("logquery: usage by partner: %w", err)
	}
	defer rows.Close()
	var out []PartnerUsage
	for rows.Next() {
		var p PartnerUsage
		if err := rows.Scan(&p.PartnerID, &p.Requests, &p.Errors, &p.P95Us); err != nil {
			return nil, fmt.Errorf("logquery: usage by partner: %w", err)
		}
		p.ErrorRate = rate(p.Errors, p.Requests)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("logquery: usage by partner: %w", err)
	}
	return out, nil
}
