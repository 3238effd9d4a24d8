package localstack

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopTimeout is how long a server may take to stop cleanly before it is killed.
const stopTimeout = 20 * time.Second

// readyTimeout is how long a server may take to answer after it starts. Kafka's JVM is the
// slowest: a few seconds on 2 cores.
const readyTimeout = 90 * time.Second

func signalOf(s StopSignal) syscall.Signal {
	if s == SigInt {
		return syscall.SIGINT
	}
	return syscall.SIGTERM
}

// Supervisor runs servers as children of the current process (steller dev): it restarts
// a server that dies on its own, and stops them all, newest first, on Stop.
type Supervisor struct {
	logger *slog.Logger
	logDir string

	mu      sync.Mutex
	running []*child
}

type child struct {
	server   Server
	mu       sync.Mutex
	cmd      *exec.Cmd
	stopping bool
	exited   chan struct{}
}

// NewSupervisor returns a supervisor that writes each server's output to logDir/NAME.log.
func NewSupervisor(logger *slog.Logger, logDir string) *Supervisor {
	return &Supervisor{logger: logger, logDir: logDir}
}

// Start prepares a server, starts it, and waits until it is ready.
func (s *Supervisor) Start(ctx context.Context, srv Server) error {
	if err := srv.Prepare(ctx); err != nil {
		return fmt.Errorf("%s: prepare: %w", srv.Name(), err)
	}
	c := &child{server: srv}
	if err := s.launch(c); err != nil {
		return err
	}
	s.mu.Lock()
	s.running = append(s.running, c)
	s.mu.Unlock()
	if err := WaitReady(ctx, srv, readyTimeout); err != nil {
		return fmt.Errorf("%w (see %s)", err, s.logPath(srv))
	}
	s.logger.Info("server ready", "server", srv.Name(), "pid", c.cmd.Process.Pid)
	return nil
}

func (s *Supervisor) logPath(srv Server) string { return filepath.Join(s.logDir, srv.Name()+".log") }

func (s *Supervisor) launch(c *child) error {
	if err := os.MkdirAll(s.logDir, 0o755); err != nil {
		return err
	}
	logFile, err := os.OpenFile(s.logPath(c.server), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := c.server.Command()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// Its own process group keeps a terminal's Ctrl-C away from the server, so steller
	// decides the order of shutdown; Pdeathsig stops it if steller itself is killed.
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("%s: start: %w", c.server.Name(), err)
	}
	c.mu.Lock()
	c.cmd = cmd
	c.exited = make(chan struct{})
	exited := c.exited
	c.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logFile.Close()
		close(exited)
		c.mu.Lock()
		stopping := c.stopping
		c.mu.Unlock()
		if stopping {
			return
		}
		s.logger.Error("server exited on its own; restarting", "server", c.server.Name(), "err", err, "log", s.logPath(c.server))
		time.Sleep(time.Second)
		if err := s.launch(c); err != nil {
			s.logger.Error("restart failed", "server", c.server.Name(), "err", err)
		}
	}()
	return nil
}

// Stop stops every server, the last started first, each with its clean-shutdown signal
// and a kill after stopTimeout.
func (s *Supervisor) Stop() {
	s.mu.Lock()
	running := s.running
	s.running = nil
	s.mu.Unlock()
	for i := len(running) - 1; i >= 0; i-- {
		c := running[i]
		c.mu.Lock()
		c.stopping = true
		cmd, exited := c.cmd, c.exited
		c.mu.Unlock()
		_ = cmd.Process.Signal(signalOf(c.server.StopSignal()))
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			s.logger.Warn("server did not stop in time; killing", "server", c.server.Name())
			_ = cmd.Process.Kill()
			<-exited
		}
		s.logger.Info("server stopped", "server", c.server.Name())
	}
}

// StartDetached prepares a server and starts it in its own session, so it outlives this
// process (steller stack up), recording its pid in dir/NAME.pid. A server whose pid file
// names a live process of the same command is left as it is.
func StartDetached(ctx context.Context, dir string, srv Server) (pid int, err error) {
	if pid, ok := runningPid(dir, srv); ok {
		return pid, nil
	}
	if err := srv.Prepare(ctx); err != nil {
		return 0, fmt.Errorf("%s: prepare: %w", srv.Name(), err)
	}
	logFile, err := os.OpenFile(filepath.Join(dir, srv.Name()+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logFile.Close()
	cmd := srv.Command()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("%s: start: %w", srv.Name(), err)
	}
	pid = cmd.Process.Pid
	if err := os.WriteFile(pidPath(dir, srv), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return pid, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	readyCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan error, 1)
	go func() { ready <- WaitReady(readyCtx, srv, readyTimeout) }()
	select {
	case err := <-ready:
		if err != nil {
			return pid, fmt.Errorf("%w (see %s)", err, logFile.Name())
		}
		return pid, nil
	case err := <-exited:
		_ = os.Remove(pidPath(dir, srv))
		return 0, fmt.Errorf("%s exited during start: %v (see %s)", srv.Name(), err, logFile.Name())
	}
}

// StopDetached stops a server that StartDetached started, found by its pid file; it
// signals only a process whose command line still names the stack's directory.
func StopDetached(dir string, srv Server) error {
	pid, ok := runningPid(dir, srv)
	defer os.Remove(pidPath(dir, srv))
	if !ok {
		return nil
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	_ = proc.Signal(signalOf(srv.StopSignal()))
	deadline := time.Now().Add(stopTimeout)
	for time.Now().Before(deadline) {
		if !Alive(pid) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = proc.Kill()
	for i := 0; i < 50 && Alive(pid); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if Alive(pid) {
		return fmt.Errorf("%s (pid %d) did not stop", srv.Name(), pid)
	}
	return nil
}

func pidPath(dir string, srv Server) string { return filepath.Join(dir, srv.Name()+".pid") }

// runningPid reads a pid file and reports whether that pid is alive and is still the
// server it was (its command line names the stack's directory, or the server's own if it
// is Located), so a reused pid is never signalled.
func runningPid(dir string, srv Server) (int, bool) {
	b, err := os.ReadFile(pidPath(dir, srv))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !Alive(pid) {
		return 0, false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return 0, false
	}
	marker := dir
	if l, ok := srv.(Located); ok {
		marker = l.CommandDir()
	}
	abs, _ := filepath.Abs(marker)
	if !bytes.Contains(cmdline, []byte(abs)) {
		return 0, false
	}
	return pid, true
}

// Alive reports whether process pid exists and is not a zombie (from /proc).
func Alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}
