package keyformat

import (
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestChecksumMatchesStdlib(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "sk_test_", "sk_live_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg"} {
		assert.Equal(t, crc32.ChecksumIEEE([]byte(s)), checksum(s), s)
	}
}
