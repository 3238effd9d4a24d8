package testclock_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/steller/platform/internal/testclock"
)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := testclock.New(start)
	assert.Equal(t, start, c.Now())
	time.Sleep(2 * time.Millisecond)
	assert.Equal(t, start, c.Now(), "the clock moved by itself")
	c.Advance(90 * time.Second)
	assert.Equal(t, start.Add(90*time.Second), c.Now())
}
