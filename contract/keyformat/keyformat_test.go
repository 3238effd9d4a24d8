package keyformat_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/keyformat"
)

func TestGenerateParseRoundTrip(t *testing.T) {
	t.Parallel()
	for _, env := range []keyformat.Environment{keyformat.Test, keyformat.Live} {
		secret, key, err := keyformat.Generate(env, rand.Reader)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(secret, "sk_"+string(env)+"_"))
		assert.Len(t, secret, len("sk_test_")+49)
		assert.Equal(t, env, key.Environment)
		assert.Equal(t, keyformat.HashOf(secret), key.Hash)
		assert.Equal(t, secret[:12], key.Display)
		assert.Equal(t, key.Display, keyformat.DisplayPrefix(secret))

		parsed, err := keyformat.Parse(secret)
		require.NoError(t, err)
		assert.Equal(t, key, parsed)
	}
}

func TestGenerateIsDeterministicForAReader(t *testing.T) {
	t.Parallel()
	seed := bytes.Repeat([]byte{0xAB}, 32)
	a, _, err := keyformat.Generate(keyformat.Test, bytes.NewReader(seed))
	require.NoError(t, err)
	b, _, err := keyformat.Generate(keyformat.Test, bytes.NewReader(seed))
	require.NoError(t, err)
	assert.Equal(t, a, b)
	c, _, err := keyformat.Generate(keyformat.Test, rand.Reader)
	require.NoError(t, err)
	assert.NotEqual(t, a, c)
}

func TestGenerateErrors(t *testing.T) {
	t.Parallel()
	_, _, err := keyformat.Generate("prod", rand.Reader)
	require.Error(t, err)
	_, _, err = keyformat.Generate(keyformat.Live, bytes.NewReader([]byte{1, 2, 3}))
	require.Error(t, err)
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	secret, _, err := keyformat.Generate(keyformat.Live, rand.Reader)
	require.NoError(t, err)
	body := secret[len("sk_live_"):]
	// Change one entropy character to another valid base62 character: a typo.
	typo := []byte(secret)
	if typo[10] == 'a' {
		typo[10] = 'b'
	} else {
		typo[10] = 'a'
	}
	// Swap two adjacent distinct characters: a transposition.
	swapped := []byte(secret)
	for i := 8; i < len(swapped)-1; i++ {
		if swapped[i] != swapped[i+1] {
			swapped[i], swapped[i+1] = swapped[i+1], swapped[i]
			break
		}
	}
	cases := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", keyformat.ErrMalformed},
		{"wrong prefix", "pk_live_" + body, keyformat.ErrMalformed},
		{"unknown env", "sk_prod_" + body, keyformat.ErrMalformed},
		{"truncated", secret[:len(secret)-1], keyformat.ErrMalformed},
		{"too long", secret + "0", keyformat.ErrMalformed},
		{"bad character", secret[:20] + "-" + secret[21:], keyformat.ErrMalformed},
		{"typo", string(typo), keyformat.ErrChecksum},
		{"transposition", string(swapped), keyformat.ErrChecksum},
		{"env swapped", "sk_test_" + body, keyformat.ErrChecksum},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := keyformat.Parse(tc.in)
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

func TestHashText(t *testing.T) {
	t.Parallel()
	h := keyformat.HashOf("sk_test_x")
	raw, err := json.Marshal(h)
	require.NoError(t, err)
	assert.Equal(t, `"`+h.String()+`"`, string(raw))
	var back keyformat.Hash
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.True(t, back.Equal(h))
	assert.False(t, back.IsZero())
	assert.False(t, back.Equal(keyformat.HashOf("sk_test_y")))

	parsed, err := keyformat.ParseHash(h.String())
	require.NoError(t, err)
	assert.Equal(t, h, parsed)
	_, err = keyformat.ParseHash("abc")
	require.Error(t, err)
	_, err = keyformat.ParseHash(strings.Repeat("zz", 32))
	require.Error(t, err)
}

func TestEqualSecret(t *testing.T) {
	t.Parallel()
	assert.True(t, keyformat.EqualSecret("sk_test_abc", "sk_test_abc"))
	assert.False(t, keyformat.EqualSecret("sk_test_abc", "sk_test_abd"))
	assert.False(t, keyformat.EqualSecret("sk_test_abc", "sk_test_ab"))
	assert.Equal(t, "", keyformat.DisplayPrefix("sk_te"))
}

func FuzzParse(f *testing.F) {
	secret, _, err := keyformat.Generate(keyformat.Test, bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	require.NoError(f, err)
	f.Add(secret)
	f.Add("sk_live_")
	f.Add("")
	f.Add(secret[:len(secret)-1] + "Z")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := keyformat.Parse(s)
		if err != nil {
			return
		}
		// Anything accepted must be a well-formed key whose hash and display agree.
		require.True(t, key.Environment.Valid())
		require.Len(t, s, len("sk_test_")+49)
		require.Equal(t, keyformat.HashOf(s), key.Hash)
		require.True(t, strings.HasPrefix(s, key.Display))
	})
}

func BenchmarkParse(b *testing.B) {
	secret, _, err := keyformat.Generate(keyformat.Test, rand.Reader)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := keyformat.Parse(secret); err != nil {
			b.Fatal(err)
		}
	}
}
