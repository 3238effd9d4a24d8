package emitter_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRestartReplaysSpool leaves a spool on disk (Kafka down, then Close), damages its tail
// the way a crash would, and starts a new emitter on it: the spool is replayed in order, and
// a torn or corrupt record is skipped and counted, never fatal.
func TestRestartReplaysSpool(t *testing.T) {
	t.Parallel()
	const n = 200
	cases := []struct {
		name        string
		damage      func(t *testing.T, segment string)
		wantEvents  int
		wantCorrupt uint64
	}{
		{name: "intact", damage: func(*testing.T, string) {}, wantEvents: n},
		{name: "torn last record", wantEvents: n - 1, wantCorrupt: 1, damage: func(t *testing.T, seg string) {
			info, err := os.Stat(seg)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(seg, info.Size()-10))
		}},
		{name: "torn header appended", wantEvents: n, wantCorrupt: 1, damage: func(t *testing.T, seg string) {
			appendBytes(t, seg, []byte{0, 0, 1})
		}},
		{name: "checksum mismatch in last record", wantEvents: n - 1, wantCorrupt: 1, damage: func(t *testing.T, seg string) {
			raw, err := os.ReadFile(seg)
			require.NoError(t, err)
			raw[len(raw)-2] ^= 0x20
			require.NoError(t, os.WriteFile(seg, raw, 0o640))
		}},
		{name: "absurd length appended", wantEvents: n, wantCorrupt: 1, damage: func(t *testing.T, seg string) {
			appendBytes(t, seg, []byte{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{'})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const topicName = "steller.request-logs.v1"
			port := freePort(t)
			brokers := []string{"127.0.0.1:" + itoa(port)}
			dir := t.TempDir()

			first := newEmitter(t, brokers, topicName, dir, nil)
			for i := range n {
				first.Emit(event(i, 6))
			}
			waitFor(t, 20*time.Second, "all events to spool", func() bool { return first.Stats().Spooled == n })
			require.NoError(t, first.Close(context.Background()))
			segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
			require.NoError(t, err)
			require.Len(t, segs, 1)
			tc.damage(t, segs[0])

			broker, _ := startKfake(t, port, "", topicName)
			defer broker.Close()
			second := newEmitter(t, brokers, topicName, dir, nil)
			waitFor(t, 30*time.Second, "the spool to be replayed", func() bool { return !second.Stats().Spooling })
			require.NoError(t, second.Close(context.Background()))
			s := second.Stats()
			assert.Equal(t, uint64(tc.wantEvents), s.Replayed)
			assert.Equal(t, tc.wantCorrupt, s.Dropped["spool_corrupt"])
			checkDelivered(t, consumeAll(t, brokers, topicName, tc.wantEvents, 30*time.Second), seqs(0, tc.wantEvents))
			left, err := filepath.Glob(filepath.Join(dir, "*.seg"))
			require.NoError(t, err)
			assert.Empty(t, left, "acknowledged segments are deleted")
		})
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}
