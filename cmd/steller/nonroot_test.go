package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/localstack"
)

// nobody is the unprivileged account the test runs the stack as when it runs as root.
const nobodyUID, nobodyGID = 65534, 65534

// A developer who is not root runs the local servers as themselves: PostgreSQL then runs
// as that user, with its data inside the stack's own private directory (no relocation, no
// postgres account). As root the test takes the part of such a developer with the nobody
// account, from a stack directory that only nobody may enter; as anyone else it is that
// developer.
func TestStackRunsForAUserWhoIsNotRoot(t *testing.T) {
	t.Parallel()
	uid, gid := os.Getuid(), os.Getgid()
	// A place that user can reach: the binary (go test's temp dirs are mode 700) and a
	// private stack dir of theirs inside it.
	base, err := os.MkdirTemp("", "steller-nonroot-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	bin := filepath.Join(base, "steller")
	require.NoError(t, copyFile(buildSteller(t), bin, 0o755))
	stackDir := filepath.Join(base, "private", "stack")
	require.NoError(t, os.MkdirAll(stackDir, 0o700))
	if uid == 0 {
		uid, gid = nobodyUID, nobodyGID
		for _, d := range []string{filepath.Dir(stackDir), stackDir} {
			require.NoError(t, os.Chown(d, uid, gid))
		}
	}

	stack := func(verb string) string {
		t.Helper()
		cmd := exec.Command(bin, "stack", verb, "--profile", "test", "--stack-dir", stackDir, "--port-offset", strconv.Itoa(testPortOffset(t, 850)), "--kafka", "none")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(stackDir)}
		if os.Getuid() == 0 { // only root may switch users (even to itself: setgroups needs the privilege)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "steller stack %s as uid %d: %s", verb, uid, out)
		return string(out)
	}
	stack("up")
	t.Cleanup(func() { stack("down") })

	// PostgreSQL and ClickHouse run as that user, PostgreSQL's data in the stack dir.
	_, err = os.Stat(filepath.Join(stackDir, "postgres.location"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing to relocate for a user who owns the stack dir")
	for _, server := range []string{"postgres", "clickhouse"} {
		pid := readPid(t, filepath.Join(stackDir, server+".pid"))
		assert.Equal(t, uid, processUID(t, pid), "%s runs as the developer", server)
	}
	assert.FileExists(t, filepath.Join(stackDir, "postgres", "PG_VERSION"))
	env, err := os.ReadFile(filepath.Join(stackDir, "stack.env"))
	require.NoError(t, err)
	assert.Contains(t, string(env), "STELLER_TEST_POSTGRES_URL=postgres://")

	pids := []int{readPid(t, filepath.Join(stackDir, "postgres.pid")), readPid(t, filepath.Join(stackDir, "clickhouse.pid"))}
	stack("down")
	for _, pid := range pids {
		assert.False(t, localstack.Alive(pid), "pid %d still runs after stack down", pid)
	}
}

func copyFile(from, to string, mode os.FileMode) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.Fields(string(raw))[0])
	require.NoError(t, err, "%s: %q", path, raw)
	return pid
}

// processUID is the real uid of a running process, from /proc.
func processUID(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			uid, err := strconv.Atoi(strings.Fields(rest)[0])
			require.NoError(t, err)
			return uid
		}
	}
	t.Fatalf("no Uid line for pid %d", pid)
	return -1
}
