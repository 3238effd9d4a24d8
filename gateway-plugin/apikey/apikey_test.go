package apikey_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/gateway-plugin/apikey"
)

func TestGenerateParseRoundTrip(t *testing.T) {
	t.Parallel()
	for _, env := range []apikey.Environment{apikey.Test, apikey.Live} {
		secret, key, err := apikey.Generate(env, rand.Reader)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(secret, "sk_"+string(env)+"_"))
		assert.Len(t, secret, len("sk_test_")+49)
		assert.Equal(t, env, key.Environment)
		assert.Equal(t, apikey.HashOf(secret), key.Hash)
		assert.Equal(t, secret[:12], key.Display)
		assert.Equal(t, key.Display, apikey.DisplayPrefix(secret))

		parsed, err := apikey.Parse(secret)
		require.NoError(t, err)
		assert.Equal(t, key, parsed)
	}
}

func TestGenerateIsDeterministicForAReader(t *testing.T) {
	t.Parallel()
	seed := bytes.Repeat([]byte{0xAB}, 32)
	a, _, err := apikey.Generate(apikey.Test, bytes.NewReader(seed))
	require.NoError(t, err)
	b, _, err := apikey.Generate(apikey.Test, bytes.NewReader(seed))
	require.NoError(t, err)
	assert.Equal(t, a, b)
	c, _, err := apikey.Generate(apikey.Test, rand.Reader)
	require.NoError(t, err)
	assert.NotEqual(t, a, c)
}

func TestGenerateErrors(t *testing.T) {
	t.Parallel()
	_, _, err := apikey.Generate("prod", rand.Reader)
	require.Error(t, err)
	_, _, err = apikey.Generate(apikey.Live, bytes.NewReader([]byte{1, 2, 3}))
	require.Error(t, err)
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	secret, _, err := apikey.Generate(apikey.Live, rand.Reader)
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
		{"empty", "", apikey.ErrMalformed},
		{"wrong prefix", "pk_live_" + body, apikey.ErrMalformed},
		{"unknown env", "sk_prod_" + body, apikey.ErrMalformed},
		{"truncated", secret[:len(secret)-1], apikey.ErrMalformed},
		{"too long", secret + "0", apikey.ErrMalformed},
		{"bad character", secret[:20] + "-" + secret[21:], apikey.ErrMalformed},
		{"typo", string(typo), apikey.ErrChecksum},
		{"transposition", string(swapped), apikey.ErrChecksum},
		{"env swapped", "sk_test_" + body, apikey.ErrChecksum},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := apikey.Parse(tc.in)
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

func TestHashText(t *testing.T) {
	t.Parallel()
	h := apikey.HashOf("sk_test_x")
	raw, err := json.Marshal(h)
	require.NoError(t, err)
	assert.Equal(t, `"`+h.String()+`"`, string(raw))
	var back apikey.Hash
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.True(t, back.Equal(h))
	assert.False(t, back.IsZero())
	assert.False(t, back.Equal(apikey.HashOf("sk_test_y")))

	parsed, err := apikey.ParseHash(h.String())
	require.NoError(t, err)
	assert.Equal(t, h, parsed)
	_, err = apikey.ParseHash("abc")
	require.Error(t, err)
	_, err = apikey.ParseHash(strings.Repeat("zz", 32))
	require.Error(t, err)
}

func TestEqualSecret(t *testing.T) {
	t.Parallel()
	assert.True(t, apikey.EqualSecret("sk_test_abc", "sk_test_abc"))
	assert.False(t, apikey.EqualSecret("sk_test_abc", "sk_test_abd"))
	assert.False(t, apikey.EqualSecret("sk_test_abc", "sk_test_ab"))
	assert.Equal(t, "", apikey.DisplayPrefix("sk_te"))
}

func FuzzParse(f *testing.F) {
	secret, _, err := apikey.Generate(apikey.Test, bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	require.NoError(f, err)
	f.Add(secret)
	f.Add("sk_live_")
	f.Add("")
	f.Add(secret[:len(secret)-1] + "Z")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := apikey.Parse(s)
		if err != nil {
			return
		}
		// Anything accepted must be a well-formed key whose hash and display agree.
		require.True(t, key.Environment.Valid())
		require.Len(t, s, len("sk_test_")+49)
		require.Equal(t, apikey.HashOf(s), key.Hash)
		require.True(t, strings.HasPrefix(s, key.Display))
	})
}

func BenchmarkParse(b *testing.B) {
	secret, _, err := apikey.Generate(apikey.Test, rand.Reader)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := apikey.Parse(secret); err != nil {
			b.Fatal(err)
		}
	}
}
