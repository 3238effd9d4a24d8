package periodic_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/periodic"
)

// Run runs at once, keeps running after a failure (which it logs), and returns nil when
// its context ends.
func TestRunRetriesAfterAFailureAndStopsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var logs bytes.Buffer
	calls := 0
	done := make(chan error, 1)
	go func() {
		done <- periodic.Run(ctx, time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)), "chore failed",
			func(context.Context) error {
				calls++
				if calls == 1 {
					return errors.New("boom")
				}
				if calls == 3 {
					cancel()
				}
				return nil
			})
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	assert.Equal(t, 3, calls)
	assert.Contains(t, logs.String(), "chore failed")
	assert.Contains(t, logs.String(), "boom")
}
