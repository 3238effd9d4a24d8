package kongstandin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxSocketPath is the longest unix socket path Linux accepts (sun_path is 108 bytes).
const maxSocketPath = 107

// Config says which plugin binary to run and where.
type Config struct {
	// Binary is the compiled go-pdk plugin; its file name is the plugin name.
	Binary string
	// Prefix is the Kong prefix directory the socket goes in; keep it short, a unix socket
	// path is limited to 107 bytes.
	Prefix string
	// Logger receives the plugin server's output and the stand-in's own events.
	Logger *slog.Logger
	// StartTimeout bounds the wait for the socket (default 10s).
	StartTimeout time.Duration
	// CallTimeout bounds one RPC, event loop included, when the context has no deadline
	// (default 10s).
	CallTimeout time.Duration
}

// Server is one running plugin server process and Kong's side of its protocol. Its
// methods are safe for concurrent use; every RPC has its own connection, as Kong's
// cosockets do.
type Server struct {
	cfg    Config
	info   Info
	socket string
	log    *slog.Logger

	mu     sync.Mutex
	proc   *process
	seq    int64 // Kong's plugins_iterator:__seq__ counter, shared by all plugins
	msgID  int64
	closed bool
	idle   []net.Conn // keepalive pool
	gen    int        // process generation the pooled connections belong to
}

// process is one launch of the plugin server binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // Wait's result, valid after done

	outMu sync.Mutex
	tail  []string // last lines of output
	lines int      // lines written so far
}

const tailLines = 50

// Start dumps the plugin's info, launches `<Binary> -kong-prefix <Prefix>` as Kong's start
// command does, and waits until the plugin server accepts connections on its socket.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Binary == "" {
		return nil, errors.New("kongstandin: Config.Binary is required")
	}
	if cfg.Prefix == "" {
		return nil, errors.New("kongstandin: Config.Prefix is required")
	}
	if cfg.Logger == nil {
		return nil, errors.New("kongstandin: Config.Logger is required")
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 10 * time.Second
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 10 * time.Second
	}
	info, err := Dump(ctx, cfg.Binary)
	if err != nil {
		return nil, err
	}
	if info.Protocol != "" && info.Protocol != "ProtoBuf:1" {
		return nil, fmt.Errorf("kongstandin: plugin server speaks %q, the stand-in speaks ProtoBuf:1", info.Protocol)
	}
	socket := filepath.Join(cfg.Prefix, filepath.Base(cfg.Binary)+".socket")
	if len(socket) > maxSocketPath {
		return nil, fmt.Errorf("kongstandin: socket path %q is %d bytes, over the %d a unix socket allows; use a shorter Prefix", socket, len(socket), maxSocketPath)
	}
	s := &Server{
		cfg:    cfg,
		info:   info,
		socket: socket,
		log:    cfg.Logger.With("plugin", info.Name),
	}
	proc, err := s.launch(ctx)
	if err != nil {
		return nil, err
	}
	s.proc = proc
	return s, nil
}

// Info is the plugin info the server dumped.
func (s *Server) Info() Info { return s.info }

// SocketPath is the unix socket the plugin server listens on.
func (s *Server) SocketPath() string { return s.socket }

// Pid is the process id of the running plugin server, or 0 when there is none.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Alive reports whether the plugin server process is still running.
func (s *Server) Alive() bool {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// ExitError is the plugin server's exit status once it has exited (nil while it runs or
// when it exited cleanly).
func (s *Server) ExitError() error {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// outputMark is where the plugin server's output stands now, for outputSince.
func (s *Server) outputMark() (*process, int) {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return nil, 0
	}
	return p, p.lineCount()
}

// Output returns the last lines the plugin server wrote to stdout and stderr.
func (s *Server) Output() []string {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.output()
}

// Restart stops the plugin server (if it still runs) and launches it again, as Kong's
// process manager respawns a plugin server that died. Instances do not survive it.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("kongstandin: server is closed")
	}
	old := s.proc
	s.proc = nil
	s.mu.Unlock()
	s.dropIdle()
	if old != nil {
		s.stop(old)
	}
	proc, err := s.launch(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = proc
	s.mu.Unlock()
	return nil
}

// Close stops the plugin server process this Server started (SIGTERM, then SIGKILL after
// five seconds), waits for it, and removes its socket.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	s.dropIdle()
	if p != nil {
		s.stop(p)
	}
	if err := os.Remove(s.socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("kongstandin: remove socket: %w", err)
	}
	return nil
}

func (s *Server) launch(ctx context.Context) (*process, error) {
	// A socket left by a previous run would accept nothing; go-pdk removes it too.
	if err := os.Remove(s.socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("kongstandin: remove stale socket: %w", err)
	}
	cmd := exec.Command(s.cfg.Binary, "-kong-prefix", s.cfg.Prefix)
	// Kong merges the server's stdout and stderr and logs them line by line.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("kongstandin: output pipe: %w", err)
	}
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		_ = pr.Close()
		_ = pw.Close()
		return nil, fmt.Errorf("kongstandin: start %s: %w", s.cfg.Binary, err)
	}
	_ = pw.Close() // the child holds its own copy; EOF on pr means it has exited
	p := &process{cmd: cmd, done: make(chan struct{})}
	pid := cmd.Process.Pid
	readDone := make(chan struct{})
	go func() {
		p.readOutput(pr, s.log.With("pid", pid))
		_ = pr.Close()
		close(readDone)
	}()
	go func() {
		p.err = cmd.Wait()
		<-readDone
		close(p.done)
	}()
	s.log.Info("plugin server started", "pid", pid, "socket", s.socket)

	deadline := time.NewTimer(s.cfg.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := net.Dial("unix", s.socket)
		if err == nil {
			_ = conn.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("kongstandin: plugin server exited before listening (%v): %s", p.err, strings.Join(p.output(), " | "))
		case <-ctx.Done():
			s.stop(p)
			return nil, fmt.Errorf("kongstandin: waiting for %s: %w", s.socket, ctx.Err())
		case <-deadline.C:
			s.stop(p)
			return nil, fmt.Errorf("kongstandin: no socket at %s after %s: %s", s.socket, s.cfg.StartTimeout, strings.Join(p.output(), " | "))
		case <-tick.C:
		}
	}
}

// stop ends one process this Server started, by its pid, and reaps it.
func (s *Server) stop(p *process) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	s.log.Info("plugin server stopped", "pid", p.cmd.Process.Pid, "exit", p.err)
}

func (p *process) readOutput(r io.Reader, log *slog.Logger) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		log.Info("plugin server output", "line", line)
		p.outMu.Lock()
		p.tail = append(p.tail, line)
		p.lines++
		if len(p.tail) > tailLines {
			p.tail = p.tail[len(p.tail)-tailLines:]
		}
		p.outMu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
}

// outputSince returns the lines written after the first n (as far as the tail reaches).
func (p *process) outputSince(n int) []string {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	skip := len(p.tail) - (p.lines - n)
	if skip < 0 {
		skip = 0
	}
	return append([]string(nil), p.tail[skip:]...)
}

func (p *process) lineCount() int {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	return p.lines
}

func (p *process) output() []string {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	return append([]string(nil), p.tail...)
}
