package kongstandin_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/kongstandin"
)

// echoBinary is the echo plugin compiled once for the package's tests.
var echoBinary string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "echoplugin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The file name is the plugin name, as Kong and go-pdk expect.
	echoBinary = filepath.Join(dir, "echo")
	cmd := exec.Command("go", "build", "-o", echoBinary, "./testdata/echoplugin")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build echo plugin: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// syncBuffer collects the stand-in's log so a failing test can print it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogger returns a logger whose output is shown only when the test fails.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stand-in log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// shortPrefix is a Kong prefix short enough for a unix socket path.
func shortPrefix(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kp")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// setup starts the echo plugin server for one test and stops it when the test ends.
func setup(t *testing.T) (*kongstandin.Server, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	srv, err := kongstandin.Start(ctx, kongstandin.Config{
		Binary: echoBinary,
		Prefix: shortPrefix(t),
		Logger: testLogger(t),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv, ctx
}
