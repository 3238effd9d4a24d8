package localstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeServer runs a command for the detached start/stop tests.
type fakeServer struct {
	name string
	args []string
}

func (f fakeServer) Name() string                    { return f.name }
func (f fakeServer) Prepare(context.Context) error   { return nil }
func (f fakeServer) Command() *exec.Cmd              { return exec.Command(f.args[0], f.args[1:]...) }
func (f fakeServer) Ready(ctx context.Context) error { return nil }
func (f fakeServer) StopSignal() StopSignal          { return SigTerm }

func TestStopDetachedNeverSignalsAProcessThatIsNotTheStacks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A process unrelated to the stack, whose pid happens to sit in the pid file.
	other := exec.Command("sleep", "30")
	require.NoError(t, other.Start())
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	srv := fakeServer{name: "fake", args: []string{"sleep", "30"}}
	require.NoError(t, os.WriteFile(pidPath(dir, srv), []byte(strconv.Itoa(other.Process.Pid)), 0o644))

	require.NoError(t, StopDetached(dir, srv))
	assert.True(t, Alive(other.Process.Pid), "an unrelated process was signalled")
	_, err := os.Stat(pidPath(dir, srv))
	assert.True(t, os.IsNotExist(err), "the stale pid file was kept")
}

func TestStartDetachedIsIdempotentAndStopDetachedStopsIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The command line names the stack dir, as every real server's does.
	srv := fakeServer{name: "fake", args: []string{"sh", "-c", "sleep 30", filepath.Join(dir, "marker")}}

	pid, err := StartDetached(context.Background(), dir, srv)
	require.NoError(t, err)
	t.Cleanup(func() { _ = StopDetached(dir, srv) })
	again, err := StartDetached(context.Background(), dir, srv)
	require.NoError(t, err)
	assert.Equal(t, pid, again, "a running server was started twice")

	require.NoError(t, StopDetached(dir, srv))
	assert.False(t, Alive(pid), "the server still runs")
}

func TestStartDetachedReportsAServerThatDiesAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := fakeServer{name: "broken", args: []string{"sh", "-c", "exit 3", dir}}
	// Ready never succeeds for a dead server; make it fail so the exit is seen first.
	_, err := StartDetached(context.Background(), dir, notReady{srv})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited during start")
}

type notReady struct{ fakeServer }

func (notReady) Ready(context.Context) error { return context.DeadlineExceeded }

func TestPortsShift(t *testing.T) {
	t.Parallel()
	p := TestPorts().Shift(10)
	assert.Equal(t, TestPorts().Postgres+10, p.Postgres)
	assert.Equal(t, TestPorts().KafkaController+10, p.KafkaController)
	assert.NotEqual(t, DevPorts().Postgres, TestPorts().Postgres)
}

// Every fixed port, at every allowed offset, stays out of the kernel's ephemeral range,
// where an outgoing connection could hold it when the server starts.
func TestFixedPortsLieAboveTheEphemeralRange(t *testing.T) {
	t.Parallel()
	low, high := 32768, 60999
	if raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		_, _ = fmt.Sscan(string(raw), &low, &high)
	}
	require.Less(t, high, MinFixedPort, "this machine's ephemeral range reaches the stack's ports")
	for name, p := range map[string]Ports{"dev": DevPorts(), "test": TestPorts()} {
		for _, offset := range []int{0, MaxPortOffset} {
			s := p.Shift(offset)
			for _, port := range []int{s.Postgres, s.ClickHouseTCP, s.ClickHouseHTTP, s.ClickHouseInterserver, s.Kafka, s.KafkaController} {
				assert.GreaterOrEqual(t, port, MinFixedPort, "%s+%d", name, offset)
				assert.LessOrEqual(t, port, 65535, "%s+%d", name, offset)
			}
		}
	}
}

// locatedServer is a fakeServer whose command line names a directory of its own, outside
// the stack's, as a relocated PostgreSQL's does.
type locatedServer struct {
	fakeServer
	own string
}

func (l locatedServer) CommandDir() string { return l.own }

// A server whose command line names its own directory instead of the stack's (PostgreSQL
// with its data moved out of a mode-700 clone) is found, kept and stopped like any other:
// before, stack down left it running and the next stack up took it for stopped.
func TestALocatedServerIsFoundAndStopped(t *testing.T) {
	t.Parallel()
	dir, own := t.TempDir(), t.TempDir()
	srv := locatedServer{fakeServer{name: "located", args: []string{"sh", "-c", "sleep 30", filepath.Join(own, "data")}}, own}

	pid, err := StartDetached(context.Background(), dir, srv)
	require.NoError(t, err)
	t.Cleanup(func() { _ = StopDetached(dir, srv) })
	again, err := StartDetached(context.Background(), dir, srv)
	require.NoError(t, err)
	assert.Equal(t, pid, again, "a running server was started twice")

	require.NoError(t, StopDetached(dir, srv))
	assert.False(t, Alive(pid), "stack down left the server running")
}
