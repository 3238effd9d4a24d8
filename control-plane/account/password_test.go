package account

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/fault"
)

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	cases := []struct {
		password, email string
		ok              bool
	}{
		{"correct-Horse-battery-9", "a@b.example", true},
		{"lowercase and spaces", "a@b.example", true},
		{"1234567890-=", "a@b.example", true},
		{"Short-1", "a@b.example", false},
		{"abcdefghijklmnop", "a@b.example", false},
		{"ABCDEFGHIJKLMNOP", "a@b.example", false},
		{"111111111111111", "a@b.example", false},
		{"abababababab12", "a@b.example", false},
		{"PASSWORD1234", "a@b.example", false},
		{"my-grace-Password", "grace@b.example", false},
		{strings.Repeat("aB3", 90), "a@b.example", false},
	}
	for _, tc := range cases {
		err := CheckPassword(tc.password, tc.email)
		if tc.ok {
			assert.NoError(t, err, tc.password)
			continue
		}
		require.Error(t, err, tc.password)
		var fe *fault.Error
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "body.password", fe.Field)
		assert.Nil(t, fe.Value, "the password is never echoed")
	}
}

func TestHasherVerifies(t *testing.T) {
	t.Parallel()
	h, err := newHasher(1)
	require.NoError(t, err)
	ctx := context.Background()
	hash, err := h.hash(ctx, "correct-Horse-battery-9")
	require.NoError(t, err)
	ok, err := h.verify(ctx, "correct-Horse-battery-9", hash)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = h.verify(ctx, "wrong-Horse-battery-9", hash)
	require.NoError(t, err)
	assert.False(t, ok)
	ok, err = h.verify(ctx, "correct-Horse-battery-9", "")
	require.NoError(t, err)
	assert.False(t, ok, "no hash never verifies")

	// A full hasher waits for a slot, and gives up with the context.
	require.NoError(t, h.acquire(ctx))
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = h.hash(canceled, "x")
	assert.ErrorIs(t, err, context.Canceled)
	h.release()
}

func TestTokenFrom(t *testing.T) {
	t.Parallel()
	cases := []struct{ authorization, cookie, want string }{
		{"Bearer sts_abc", "", "sts_abc"},
		{"bearer sts_abc", "sts_cookie", "sts_abc"},
		{"Bearer sk_test_key", "sts_cookie", "sts_cookie"},
		{"Basic xyz", "", ""},
		{"", "sts_cookie", "sts_cookie"},
		{"", "garbage", ""},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, TokenFrom(tc.authorization, tc.cookie), "%+v", tc)
	}
}
