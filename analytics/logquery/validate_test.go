package logquery_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
)

// fieldsOf returns the field names of a ValidationError, failing on any other error.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	require.ErrorIs(t, err, logquery.ErrInvalid)
	var ve logquery.ValidationError
	require.True(t, errors.As(err, &ve), "%T is not a ValidationError", err)
	for _, fe := range ve {
		assert.NotEmpty(t, fe.Message, fe.Field)
	}
	return ve.Fields()
}

func TestFilterValidationNamesEveryBadField(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	ok := logquery.Filter{PartnerID: "ptr_1"}
	with := func(change func(*logquery.Filter)) logquery.Filter {
		f := ok
		change(&f)
		return f
	}
	cases := []struct {
		name   string
		f      logquery.Filter
		fields []string
	}{
		{"partner only", ok, nil},
		{"everything valid", logquery.Filter{PartnerID: "ptr_1", Environment: "live", Method: "DELETE", Route: "orders.get",
			KeyID: "key_1", RequestID: "req_1", ClientRequestID: "cli:1.a_b-c", DenialCode: "ip_not_allowed", Path: "/v1/orders/", PathPrefix: true,
			StatusClass: 5, From: t0, To: t0.Add(time.Hour)}, nil},
		{"no partner", logquery.Filter{}, []string{"partner_id"}},
		{"status code too low", with(func(f *logquery.Filter) { f.StatusCode = 99 }), []string{"status"}},
		{"status code too high", with(func(f *logquery.Filter) { f.StatusCode = 600 }), []string{"status"}},
		{"status class out of range", with(func(f *logquery.Filter) { f.StatusClass = 6 }), []string{"status"}},
		{"status code and class", with(func(f *logquery.Filter) { f.StatusCode, f.StatusClass = 404, 4 }), []string{"status"}},
		{"lower-case method", with(func(f *logquery.Filter) { f.Method = "get" }), []string{"method"}},
		{"relative path", with(func(f *logquery.Filter) { f.Path = "v1/orders" }), []string{"path"}},
		{"prefix without path", with(func(f *logquery.Filter) { f.PathPrefix = true }), []string{"path"}},
		{"control character in route", with(func(f *logquery.Filter) { f.Route = "orders\x00" }), []string{"route"}},
		{"key id too long", with(func(f *logquery.Filter) { f.KeyID = strings.Repeat("k", 129) }), []string{"key_id"}},
		{"unknown environment", with(func(f *logquery.Filter) { f.Environment = "prod" }), []string{"environment"}},
		{"from before 1970", with(func(f *logquery.Filter) { f.From = time.Unix(-1, 0) }), []string{"from"}},
		{"to not after from", with(func(f *logquery.Filter) { f.From, f.To = t0, t0 }), []string{"to"}},
		{"request id not UTF-8", with(func(f *logquery.Filter) { f.RequestID = "req_\xff" }), []string{"request_id"}},
		{"client request id with a space", with(func(f *logquery.Filter) { f.ClientRequestID = "cli 1" }), []string{"client_request_id"}},
		{"client request id too long", with(func(f *logquery.Filter) { f.ClientRequestID = strings.Repeat("c", 129) }), []string{"client_request_id"}},
		{"denial code with spaces", with(func(f *logquery.Filter) { f.DenialCode = "no key" }), []string{"denial_code"}},
		{"every problem at once", logquery.Filter{StatusCode: 700, Method: "get", Path: "x", Route: "\n", KeyID: "\t",
			Environment: "staging", From: t0, To: t0.Add(-time.Second), RequestID: "\x01", ClientRequestID: "\x02", DenialCode: "X"},
			[]string{"partner_id", "status", "method", "path", "route", "key_id", "environment", "to", "request_id", "client_request_id", "denial_code"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.fields, fieldsOf(t, tc.f.Validate()))
		})
	}
}

func TestValidatePageChecksLimitAndCursorToo(t *testing.T) {
	t.Parallel()
	f := logquery.Filter{PartnerID: "ptr_1"}
	good := &logquery.Cursor{TimestampMs: 1, RequestID: "req_1"}
	cases := []struct {
		name   string
		f      logquery.Filter
		after  *logquery.Cursor
		limit  int
		fields []string
	}{
		{"first page", f, nil, 50, nil},
		{"with cursor, largest page", f, good, logquery.MaxPageSize, nil},
		{"limit zero", f, nil, 0, []string{"limit"}},
		{"limit too large", f, nil, logquery.MaxPageSize + 1, []string{"limit"}},
		{"cursor without request id", f, &logquery.Cursor{TimestampMs: 5}, 10, []string{"cursor"}},
		{"cursor without time", f, &logquery.Cursor{RequestID: "req_1"}, 10, []string{"cursor"}},
		{"all together", logquery.Filter{Method: "x"}, &logquery.Cursor{}, -1, []string{"partner_id", "method", "limit", "cursor"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.fields, fieldsOf(t, logquery.ValidatePage(tc.f, tc.after, tc.limit)))
		})
	}
}

func TestUsageQueryValidation(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		q      logquery.UsageQuery
		fields []string
	}{
		{"a day of hours", logquery.UsageQuery{PartnerID: "ptr_1", From: t0, To: t0.Add(24 * time.Hour), Interval: "hour"}, nil},
		{"all partners, 30 days", logquery.UsageQuery{From: t0, To: t0.AddDate(0, 0, 30), Interval: "day"}, nil},
		{"exactly 1440 minutes", logquery.UsageQuery{From: t0, To: t0.Add(24 * time.Hour), Interval: "minute"}, nil},
		{"1441 minutes", logquery.UsageQuery{From: t0, To: t0.Add(24*time.Hour + time.Minute), Interval: "minute"}, []string{"interval"}},
		{"61 days of hours", logquery.UsageQuery{From: t0, To: t0.AddDate(0, 0, 61), Interval: "hour"}, []string{"interval"}},
		{"unknown interval", logquery.UsageQuery{From: t0, To: t0.Add(time.Hour), Interval: "week"}, []string{"interval"}},
		{"no range", logquery.UsageQuery{Interval: "day"}, []string{"from", "to"}},
		{"reversed", logquery.UsageQuery{From: t0, To: t0.Add(-time.Hour), Interval: "day"}, []string{"to"}},
		{"bad partner", logquery.UsageQuery{PartnerID: "a\nb", From: t0, To: t0.Add(time.Hour), Interval: ""},
			[]string{"partner_id", "interval"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.fields, fieldsOf(t, tc.q.Validate()))
		})
	}
	assert.Equal(t, []string{"from", "limit"}, fieldsOf(t, logquery.ValidatePartnerUsage(time.Time{}, t0, 0)))
	assert.Nil(t, fieldsOf(t, logquery.ValidatePartnerUsage(t0, t0.Add(time.Minute), logquery.MaxPartners)))
}

func TestUsageWindowAndBuckets(t *testing.T) {
	t.Parallel()
	q := logquery.UsageQuery{
		From:     time.Date(2026, 3, 10, 22, 59, 30, 0, time.FixedZone("x", 3600)), // 21:59:30 UTC
		To:       time.Date(2026, 3, 11, 0, 0, 1, 0, time.UTC),
		Interval: "hour",
	}
	from, to := q.Window()
	assert.Equal(t, time.Date(2026, 3, 10, 21, 59, 0, 0, time.UTC), from)
	assert.Equal(t, time.Date(2026, 3, 11, 0, 1, 0, 0, time.UTC), to)
	assert.Equal(t, []time.Time{
		time.Date(2026, 3, 10, 21, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 10, 22, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 10, 23, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC),
	}, q.Buckets())
	q.Interval = "day"
	assert.Equal(t, []time.Time{time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)}, q.Buckets())
}
