package testenv

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
)

// ChildConfig is the child side of a test that runs part of itself as another process
// (to SIGKILL it): it reads the JSON configuration SpawnChild put in the environment
// variable env into cfg and reports whether this process is such a child. The child test
// skips, saying whose child it is, when it is not.
func ChildConfig(t testing.TB, env string, cfg any) bool {
	t.Helper()
	raw := os.Getenv(env)
	if raw == "" {
		return false
	}
	if err := json.Unmarshal([]byte(raw), cfg); err != nil {
		t.Fatalf("testenv: %s: %v", env, err)
	}
	return true
}

// SpawnChild starts the test binary again running only childTest, with cfg as JSON in the
// environment variable env (read there by ChildConfig). The child is SIGKILLed when the
// test ends if it still runs, and its output is shown if the test failed.
func SpawnChild(t testing.TB, childTest, env string, cfg any) *exec.Cmd {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("testenv: child config: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+childTest+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+string(raw))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start %s: %v", childTest, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s (pid %d) output:\n%s", childTest, cmd.Process.Pid, out.String())
		}
	})
	return cmd
}

// syncBuffer is a bytes.Buffer that the child's output copier and the test may share.
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
