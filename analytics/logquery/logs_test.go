package logquery_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/analytics/warehouse"
)

var base = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

// explorerEvents are partner ptr_a's requests, newest last. ptr_b gets a copy of each
// (ids b01...), so a filter that forgot the partner would return rows of both.
var explorerEvents = []event{
	{id: "a01", at: at(0), env: "test", method: "GET", path: "/v1/catalog", route: "catalog.list", key: "key_1", status: 200},
	{id: "a02", at: at(1 * time.Second), env: "test", method: "POST", path: "/v1/orders", route: "orders.create", key: "key_1", status: 201, client: "cli-shared"},
	{id: "a03", at: at(2 * time.Second), env: "live", method: "POST", path: "/v1/orders", route: "orders.create", key: "key_2", status: 402},
	{id: "a04", at: at(3 * time.Second), env: "live", method: "GET", path: "/v1/orders/ord_1", route: "orders.get", key: "key_2", status: 404},
	{id: "a05", at: at(4 * time.Second), env: "test", method: "GET", path: "/v1/orders/ord_2", route: "orders.get", key: "key_1", status: 200, client: "cli-shared"},
	{id: "a06", at: at(5 * time.Second), env: "test", method: "GET", path: "/v1/balance", route: "balance.get", status: 401, denial: "missing_key"},
	{id: "a07", at: at(6 * time.Second), env: "live", method: "GET", path: "/v1/catalog", route: "catalog.list", key: "key_3", status: 403, denial: "ip_not_allowed", client: "cli-7"},
	{id: "a08", at: at(7 * time.Second), env: "live", method: "GET", path: "/v1/catalog", route: "catalog.list", key: "key_2", status: 500},
	{id: "a09", at: at(8 * time.Second), env: "test", method: "DELETE", path: "/v1/orders/ord_3", route: "unknown", key: "key_1", status: 405},
	{id: "a10", at: at(time.Minute), env: "test", method: "GET", path: "/v1/catalogue", route: "unknown", key: "key_1", status: 404},
	{id: "a11", at: at(time.Hour), env: "live", method: "POST", path: "/v1/orders", route: "orders.create", key: "key_2", status: 201, client: "cli-shared"},
	// Same second as a11, 500 ms later.
	{id: "a12", at: at(time.Hour + 500*time.Millisecond), env: "live", method: "GET", path: "/v1/orders/ord_9", route: "orders.get", key: "key_2", status: 200},
	// Same millisecond: the request id breaks the tie.
	{id: "a13", at: at(2*time.Hour + 250*time.Millisecond), env: "test", method: "GET", path: "/v1/catalog", route: "catalog.list", key: "key_1", status: 200},
	{id: "a14", at: at(2*time.Hour + 250*time.Millisecond), env: "test", method: "GET", path: "/v1/catalog", route: "catalog.list", key: "key_1", status: 200},
}

// seedExplorer stores both partners' events, then redelivers a03, a08 and a13 (and b03)
// in a second batch, as the ingest does after a crash.
func seedExplorer(t *testing.T) suite {
	t.Helper()
	s := setup(t)
	var all []event
	for _, e := range explorerEvents {
		a, b := e, e
		a.partner = "ptr_a"
		b.partner, b.id = "ptr_b", "b"+e.id[1:]
		all = append(all, a, b)
	}
	s.insert(t, all...)
	s.insert(t, all[4], all[5], all[14], all[24]) // a03, b03, a08, a13
	return s
}

func TestLogsFilters(t *testing.T) {
	t.Parallel()
	s := seedExplorer(t)
	everything := []string{"a14", "a13", "a12", "a11", "a10", "a09", "a08", "a07", "a06", "a05", "a04", "a03", "a02", "a01"}
	cases := []struct {
		name string
		f    logquery.Filter
		want []string
	}{
		{"no filter: newest first, each request once", logquery.Filter{}, everything},
		{"environment", logquery.Filter{Environment: "live"}, []string{"a12", "a11", "a08", "a07", "a04", "a03"}},
		{"method", logquery.Filter{Method: "POST"}, []string{"a11", "a03", "a02"}},
		{"route", logquery.Filter{Route: "orders.get"}, []string{"a12", "a05", "a04"}},
		{"key id", logquery.Filter{KeyID: "key_2"}, []string{"a12", "a11", "a08", "a04", "a03"}},
		{"request id", logquery.Filter{RequestID: "a08"}, []string{"a08"}},
		{"another partner's request id", logquery.Filter{RequestID: "b08"}, []string{}},
		{"client request id shared by three requests", logquery.Filter{ClientRequestID: "cli-shared"}, []string{"a11", "a05", "a02"}},
		{"client request id of a denial", logquery.Filter{ClientRequestID: "cli-7"}, []string{"a07"}},
		{"client request id is not a request id", logquery.Filter{ClientRequestID: "a08"}, []string{}},
		{"request id is not a client request id", logquery.Filter{RequestID: "cli-7"}, []string{}},
		{"denial code", logquery.Filter{DenialCode: "ip_not_allowed"}, []string{"a07"}},
		{"exact path", logquery.Filter{Path: "/v1/catalog"}, []string{"a14", "a13", "a08", "a07", "a01"}},
		{"path prefix", logquery.Filter{Path: "/v1/catalog", PathPrefix: true}, []string{"a14", "a13", "a10", "a08", "a07", "a01"}},
		{"path prefix with a slash", logquery.Filter{Path: "/v1/orders/", PathPrefix: true}, []string{"a12", "a09", "a05", "a04"}},
		{"path prefix is not a pattern", logquery.Filter{Path: "/v1/%", PathPrefix: true}, []string{}},
		{"status code", logquery.Filter{StatusCode: 404}, []string{"a10", "a04"}},
		{"status class 2xx", logquery.Filter{StatusClass: 2}, []string{"a14", "a13", "a12", "a11", "a05", "a02", "a01"}},
		{"status class 4xx", logquery.Filter{StatusClass: 4}, []string{"a10", "a09", "a07", "a06", "a04", "a03"}},
		{"status class 5xx", logquery.Filter{StatusClass: 5}, []string{"a08"}},
		{"from inclusive, to exclusive", logquery.Filter{From: at(3 * time.Second), To: at(8 * time.Second)},
			[]string{"a08", "a07", "a06", "a05", "a04"}},
		{"from to the millisecond", logquery.Filter{From: at(time.Hour + 500*time.Millisecond)}, []string{"a14", "a13", "a12"}},
		{"to to the millisecond", logquery.Filter{Environment: "live", To: at(time.Hour + 500*time.Millisecond)},
			[]string{"a11", "a08", "a07", "a04", "a03"}},
		{"live client errors", logquery.Filter{Environment: "live", StatusClass: 4}, []string{"a07", "a04", "a03"}},
		{"GET catalog.list with key_1", logquery.Filter{Method: "GET", Route: "catalog.list", KeyID: "key_1"}, []string{"a14", "a13", "a01"}},
		{"test orders that succeeded", logquery.Filter{Environment: "test", Path: "/v1/orders", PathPrefix: true, StatusClass: 2},
			[]string{"a05", "a02"}},
		{"4xx of the first minute", logquery.Filter{StatusClass: 4, To: at(time.Minute)}, []string{"a09", "a07", "a06", "a04", "a03"}},
		{"nothing matches", logquery.Filter{Route: "orders.create", StatusCode: 500}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f.PartnerID = "ptr_a"
			page, err := s.store.Logs(context.Background(), tc.f, nil, logquery.MaxPageSize)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(page.Rows))
			assert.Nil(t, page.Next)
			for _, r := range page.Rows {
				assert.Equal(t, "ptr_a", r.PartnerID)
			}
		})
	}
}

func TestLogsReadEveryColumn(t *testing.T) {
	t.Parallel()
	s := seedExplorer(t)
	ctx := context.Background()
	want := explorerEvents[6]
	want.partner = "ptr_a"
	page, err := s.store.Logs(ctx, logquery.Filter{PartnerID: "ptr_a", RequestID: "a07"}, nil, 1)
	require.NoError(t, err)
	require.Len(t, page.Rows, 1)
	got := page.Rows[0]
	assert.WithinDuration(t, time.Now(), got.IngestedAt, time.Minute)
	got.IngestedAt = time.Time{}
	assert.Equal(t, want.row(), got)
	assert.Equal(t, time.UTC, got.Timestamp.Location())

	one, ok, err := s.store.Request(ctx, "ptr_a", "a13")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, base.Add(2*time.Hour+250*time.Millisecond), one.Timestamp, "milliseconds come from timestamp_ms")
}

func TestRedeliveredRequestsAppearOnce(t *testing.T) {
	t.Parallel()
	s := seedExplorer(t)
	ctx := context.Background()
	var copies uint64
	require.NoError(t, s.ch.Conn.QueryRow(ctx, "SELECT count() FROM "+warehouse.QuoteIdentifier(s.ch.Database)+
		".request_logs WHERE partner_id = ? AND request_id = ?", "ptr_a", "a03").Scan(&copies))
	assert.Contains(t, []uint64{1, 2}, copies, "two copies until a merge folds them")

	page, err := s.store.Logs(ctx, logquery.Filter{PartnerID: "ptr_a", Route: "orders.create"}, nil, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"a11", "a03", "a02"}, ids(page.Rows))
	// Small pages: the copy is not carried over to the next page either.
	var walked []string
	var after *logquery.Cursor
	for range 10 {
		page, err := s.store.Logs(ctx, logquery.Filter{PartnerID: "ptr_a", Route: "orders.create"}, after, 1)
		require.NoError(t, err)
		walked = append(walked, ids(page.Rows)...)
		if after = page.Next; after == nil {
			break
		}
	}
	assert.Equal(t, []string{"a11", "a03", "a02"}, walked)
	r, ok, err := s.store.Request(ctx, "ptr_a", "a03")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "a03", r.RequestID)
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	s := seedExplorer(t)
	ctx := context.Background()

	pageA, err := s.store.Logs(ctx, logquery.Filter{PartnerID: "ptr_a"}, nil, 5)
	require.NoError(t, err)
	require.NotNil(t, pageA.Next)
	assert.Equal(t, []string{"a14", "a13", "a12", "a11", "a10"}, ids(pageA.Rows))

	// A's cursor with B's filter: B's rows older than that position, never A's.
	pageB, err := s.store.Logs(ctx, logquery.Filter{PartnerID: "ptr_b"}, pageA.Next, logquery.MaxPageSize)
	require.NoError(t, err)
	assert.Equal(t, []string{"b09", "b08", "b07", "b06", "b05", "b04", "b03", "b02", "b01"}, ids(pageB.Rows))
	// A cursor naming another partner's request id moves the position, nothing more.
	forged := &logquery.Cursor{TimestampMs: uint64(at(3 * time.Second).UnixMilli()), RequestID: "b04"}
	pageA, err = s.store.Logs(ctx, logquery.Filter{PartnerID: "ptr_a"}, forged, logquery.MaxPageSize)
	require.NoError(t, err)
	assert.Equal(t, []string{"a04", "a03", "a02", "a01"}, ids(pageA.Rows), "a04 sorts below b04 in the same millisecond")

	_, ok, err := s.store.Request(ctx, "ptr_b", "a03")
	require.NoError(t, err)
	assert.False(t, ok, "B cannot read A's request by id")
	_, ok, err = s.store.Request(ctx, "ptr_a", "a03")
	require.NoError(t, err)
	assert.True(t, ok)

	for _, partner := range []string{"ptr_b' OR '1'='1", "ptr_%", "ptr_"} {
		page, err := s.store.Logs(ctx, logquery.Filter{PartnerID: partner}, nil, 10)
		require.NoError(t, err)
		assert.Empty(t, page.Rows, partner)
	}
}

func TestPaginationNeitherSkipsNorRepeatsWhileRowsArrive(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := context.Background()
	for _, limit := range []int{10, 19} { // 19 divides the 95 rows: the last page is full
		partner := fmt.Sprintf("ptr_p%d", limit)
		var seed []event
		for i := range 95 {
			// Pairs share a millisecond; several pairs share a second.
			seed = append(seed, event{id: fmt.Sprintf("p%03d", i), partner: partner, at: at(time.Duration(i/2) * 300 * time.Millisecond),
				status: uint16(200 + 100*(i%4))})
		}
		s.insert(t, seed...)
		want := ids(rowsOf(seed))
		slices.SortFunc(want, func(x, y string) int { return newestFirst(seed, x, y) })

		var got []string
		var after *logquery.Cursor
		for pageNo := 0; ; pageNo++ {
			require.Less(t, pageNo, 20, "pagination does not end")
			page, err := s.store.Logs(ctx, logquery.Filter{PartnerID: partner}, after, limit)
			require.NoError(t, err)
			got = append(got, ids(page.Rows)...)
			if page.Next == nil {
				break
			}
			assert.Len(t, page.Rows, limit)
			// Between pages: newer requests arrive, another partner's requests land right
			// at the cursor, and an old page's request is redelivered.
			s.insert(t,
				event{id: fmt.Sprintf("new%02d", pageNo), partner: partner, at: at(time.Hour + time.Duration(pageNo)*time.Second)},
				event{id: fmt.Sprintf("q%02d", pageNo), partner: "ptr_q", at: time.UnixMilli(int64(page.Next.TimestampMs))},
				seed[pageNo],
			)
			after = page.Next
		}
		assert.Equal(t, want, got, "limit %d", limit)
	}
}

func rowsOf(events []event) []logquery.Row {
	out := make([]logquery.Row, len(events))
	for i, e := range events {
		out[i] = e.row()
	}
	return out
}

// newestFirst orders two request ids of events by (timestamp_ms, request_id), descending.
func newestFirst(events []event, x, y string) int {
	find := func(id string) event {
		i := slices.IndexFunc(events, func(e event) bool { return e.id == id })
		return events[i]
	}
	ex, ey := find(x), find(y)
	if c := ey.at.Compare(ex.at); c != 0 {
		return c
	}
	return strings.Compare(y, x)
}

func TestLogsRejectInvalidInput(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := context.Background()
	_, err := s.store.Logs(ctx, logquery.Filter{PartnerID: "ptr_a", StatusCode: 42, Method: "get"}, &logquery.Cursor{}, 500)
	assert.Equal(t, []string{"status", "method", "limit", "cursor"}, fieldsOf(t, err))
	_, _, err = s.store.Request(ctx, "", "")
	assert.Equal(t, []string{"partner_id", "request_id"}, fieldsOf(t, err))
	_, err = logquery.New(nil, "db")
	assert.Error(t, err)
}

// Issue 10: a client that sends one X-Request-Id with many requests gets every one of them
// in the explorer and in usage, each under its own edge request id; a Kafka redelivery of
// the same events still counts once, because dedup keys on the edge's id only.
func TestManyRequestsWithOneClientRequestIDAreAllCounted(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := context.Background()
	const n = 20
	events := make([]event, n)
	want := make([]string, n)
	for i := range events {
		id := fmt.Sprintf("req_%032x", i)
		events[i] = event{id: id, partner: "ptr_n", at: at(time.Duration(i) * time.Millisecond), route: "catalog.list", key: "key_1", client: "same-client-id"}
		want[n-1-i] = id // newest first
	}
	s.insert(t, events...)
	s.insert(t, events...) // redelivered

	page, err := s.store.Logs(ctx, logquery.Filter{PartnerID: "ptr_n", ClientRequestID: "same-client-id"}, nil, logquery.MaxPageSize)
	require.NoError(t, err)
	assert.Equal(t, want, ids(page.Rows), "one row per edge request id")
	for _, r := range page.Rows {
		assert.Equal(t, "same-client-id", r.ClientRequestID)
	}
	all, err := s.store.Logs(ctx, logquery.Filter{PartnerID: "ptr_n"}, nil, logquery.MaxPageSize)
	require.NoError(t, err)
	assert.Len(t, all.Rows, n)

	one, ok, err := s.store.Request(ctx, "ptr_n", want[3])
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "same-client-id", one.ClientRequestID)

	u, err := s.store.Usage(ctx, logquery.UsageQuery{PartnerID: "ptr_n", From: base.Add(-time.Hour), To: base.Add(time.Hour), Interval: logquery.IntervalHour})
	require.NoError(t, err)
	require.Len(t, u.Environments, 1)
	assert.Equal(t, uint64(n), u.Environments[0].Requests, "usage counts edge request ids, not client ids")
}
