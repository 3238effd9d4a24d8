package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckPath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		path string
		ok   bool
	}{
		{"steller/edge/edge.rego", true},
		{"steller/edge/edge_test.rego", true},
		{"steller/edge/data.json", true},
		{"data.yaml", true},
		{".manifest", true},
		{"", false},
		{"/steller/edge.rego", false},
		{"../edge.rego", false},
		{"steller/../edge.rego", false},
		{"steller/./edge.rego", false},
		{"steller//edge.rego", false},
		{"steller/.hidden/edge.rego", false},
		{"steller/.manifest", false},
		{".signatures.json", false},
		{"steller/edge/routes.json", false},
		{"steller/edge/policy.wasm", false},
		{"steller/edge/edge rego.rego", false},
		{"steller/édge.rego", false},
	}
	for _, tc := range cases {
		msg := checkPath(tc.path)
		assert.Equal(t, tc.ok, msg == "", "%q: %s", tc.path, msg)
	}
}

func TestETagMatches(t *testing.T) {
	t.Parallel()
	const etag = `"abc"`
	cases := []struct {
		headers []string
		want    bool
	}{
		{nil, false},
		{[]string{`"abc"`}, true},
		{[]string{`W/"abc"`}, true},
		{[]string{`"x", "abc"`}, true},
		{[]string{`"x"`, `"abc"`}, true},
		{[]string{"*"}, true},
		{[]string{`abc`}, false},
		{[]string{`"abcd"`}, false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, etagMatches(tc.headers, etag), "%q", tc.headers)
	}
}

func TestCursorRoundTripsAndRefusesForgeries(t *testing.T) {
	t.Parallel()
	id, err := decodeCursor(encodeCursor(42))
	assert.NoError(t, err)
	assert.Equal(t, int64(42), id)
	id, err = decodeCursor("")
	assert.NoError(t, err)
	assert.Zero(t, id)
	for _, c := range []string{"42", "djE6", "djE6YWJj", "djI6NDI", "djE6LTQy", "%%%"} {
		_, err := decodeCursor(c)
		assert.Error(t, err, c)
	}
}
