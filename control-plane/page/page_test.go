package page_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/page"
)

type key struct {
	At time.Time `json:"t"`
	ID string    `json:"id"`
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	in := key{At: time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC), ID: "key_1"}
	var out key
	ok, err := page.Decode(page.Encode(in), &out)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, in, out)
}

func TestEmptyIsTheFirstPage(t *testing.T) {
	t.Parallel()
	var out key
	ok, err := page.Decode("", &out)
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestTamperedCursorsAreValidationErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"%%%", "bm90IGpzb24", page.Encode("a string, not a key")} {
		var out key
		_, err := page.Decode(s, &out)
		var fe *fault.Error
		require.True(t, errors.As(err, &fe), s)
		assert.Equal(t, "query.cursor", fe.Field)
		assert.ErrorIs(t, err, fault.ErrValidation)
	}
}

func TestTimeKeyRoundTripsAndRefusesAnIncompleteKey(t *testing.T) {
	t.Parallel()
	in := page.TimeKey{At: time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC), ID: "whe_1"}
	out, ok, err := page.DecodeTimeKey(in.Encode())
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, in, out)
	_, ok, err = page.DecodeTimeKey("")
	require.NoError(t, err)
	assert.False(t, ok, "an empty cursor is the first page")
	for _, bad := range []string{page.Encode(page.TimeKey{ID: "x"}), page.Encode(page.TimeKey{At: in.At}), "%%%"} {
		_, ok, err := page.DecodeTimeKey(bad)
		assert.False(t, ok)
		assert.True(t, errors.Is(err, fault.ErrValidation), "%q: %v", bad, err)
	}
}
