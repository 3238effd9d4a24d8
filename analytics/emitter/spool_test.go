package emitter

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openTestSpool(t *testing.T, dir string, maxBytes, segmentBytes int64) *spool {
	t.Helper()
	s, err := openSpool(dir, maxBytes, segmentBytes, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return s
}

// readAll reads and commits everything, returning the values in order.
func readAll(t *testing.T, s *spool, batch int) []string {
	t.Helper()
	var out []string
	for {
		recs, end, err := s.next(batch, 1<<20)
		require.NoError(t, err)
		if len(recs) == 0 {
			require.NoError(t, s.commit(end))
			return out
		}
		for _, r := range recs {
			out = append(out, string(r.key)+"="+string(r.value))
		}
		require.NoError(t, s.commit(end))
	}
}

func TestSpoolOrderAcrossSegments(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		batch      int
		interleave bool // append more while reading
	}{
		{name: "one at a time", batch: 1},
		{name: "batches", batch: 7},
		{name: "appends between reads", batch: 5, interleave: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openTestSpool(t, dir, 1<<20, 256) // a few records per segment
			var want, got []string
			add := func(i int) {
				k, v := fmt.Sprintf("p%d", i%3), fmt.Sprintf(`{"n":%d}`, i)
				require.NoError(t, s.append([]byte(k), []byte(v)))
				want = append(want, k+"="+v)
			}
			for i := range 50 {
				add(i)
			}
			segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
			require.NoError(t, err)
			assert.Greater(t, len(segs), 3, "records span several segments")
			if tc.interleave {
				for i := 50; i < 100; i++ {
					recs, end, err := s.next(tc.batch, 1<<20)
					require.NoError(t, err)
					for _, r := range recs {
						got = append(got, string(r.key)+"="+string(r.value))
					}
					require.NoError(t, s.commit(end))
					add(i)
				}
			}
			got = append(got, readAll(t, s, tc.batch)...)
			assert.Equal(t, want, got)
			assert.True(t, s.empty())
			assert.Zero(t, s.bytes())
			left, err := filepath.Glob(filepath.Join(dir, "*.seg"))
			require.NoError(t, err)
			assert.Empty(t, left, "acknowledged segments are deleted")
			require.NoError(t, s.close())
		})
	}
}

func TestSpoolUncommittedRecordsSurviveReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestSpool(t, dir, 1<<20, 256)
	for i := range 20 {
		require.NoError(t, s.append([]byte("p"), fmt.Appendf(nil, "%d", i)))
	}
	recs, end, err := s.next(15, 1<<20)
	require.NoError(t, err)
	require.Len(t, recs, 15)
	require.NoError(t, s.commit(end)) // 15 acknowledged; their whole segments are gone
	recs, _, err = s.next(3, 1<<20)   // read but never acknowledged
	require.NoError(t, err)
	require.Len(t, recs, 3)
	require.NoError(t, s.close())

	s = openTestSpool(t, dir, 1<<20, 256)
	got := readAll(t, s, 4)
	require.NotEmpty(t, got)
	assert.Equal(t, "p=19", got[len(got)-1])
	assert.LessOrEqual(t, len(got), 20)
	assert.GreaterOrEqual(t, len(got), 5, "the unacknowledged records come back")
	assert.Equal(t, "p=15", got[len(got)-5], "after the last acknowledged segment, in order")
	require.NoError(t, s.close())
}

func TestSpoolBound(t *testing.T) {
	t.Parallel()
	s := openTestSpool(t, t.TempDir(), 1000, 256)
	appended := 0
	for range 100 {
		err := s.append([]byte("p"), make([]byte, 90))
		if err != nil {
			require.ErrorIs(t, err, errSpoolFull)
			continue
		}
		appended++
	}
	assert.Equal(t, 1000/(recordHeader+1+1+90), appended)
	assert.LessOrEqual(t, s.bytes(), int64(1000))
	// Acknowledging frees room again.
	recs, end, err := s.next(100, 1<<20)
	require.NoError(t, err)
	require.Len(t, recs, appended)
	require.NoError(t, s.commit(end))
	require.NoError(t, s.append([]byte("p"), make([]byte, 90)))
	require.NoError(t, s.close())
}

func TestSpoolIsExclusive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestSpool(t, dir, 1<<20, 1<<16)
	_, err := openSpool(dir, 1<<20, 1<<16, slog.New(slog.DiscardHandler))
	require.Error(t, err, "a second emitter on the same spool is refused")
	require.NoError(t, s.close())
	s = openTestSpool(t, dir, 1<<20, 1<<16)
	require.NoError(t, s.close())
}
