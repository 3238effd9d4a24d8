// Package chcurrent runs ClickHouse SQL on current ClickHouse for tests. Production runs
// ClickHouse 24.x and later while the local test server is Debian's 18.16, so tests that
// check statements on 18.16 (through internal/testenv) also run them here: on chdb, the
// ClickHouse engine in process in Python (26.9, pinned in scripts/python/requirements.txt),
// driven through scripts/python/chrun.py in the venv that `bash scripts/install.sh python`
// creates in .cache/venv. A missing venv fails the test with that command; it never skips.
//
// It owns the runner process and its protocol (Session), binding clickhouse-go style `?`
// arguments into literal SQL (Bind), since chdb takes SQL text only, and a canonical form
// of answers (Result) that the rows of either engine are put in, so that tests can feed
// the same rows to both and compare what the same query answers.
package chcurrent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/testenv"
)

// InstallHint is the command that creates the venv the runner needs.
const InstallHint = "bash scripts/install.sh python"

// Paths of the venv's interpreter and of the runner, relative to the module root.
var (
	pythonPath = filepath.Join(".cache", "venv", "bin", "python")
	runnerPath = filepath.Join("scripts", "python", "chrun.py")
)

// Session is one runner process holding one chdb session: databases and tables created
// by one call are there for the next. It is safe for concurrent use; calls run one at a
// time, so give each test its own database (NewDatabase).
type Session struct {
	mu      sync.Mutex
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stdout  *bufio.Reader
	stderr  *tailBuffer
	broken  error // set when the runner can no longer be used
	closed  bool
	killed  atomic.Bool
	version string // ClickHouse's version()
}

// StatementError is a statement that current ClickHouse refused.
type StatementError struct {
	// Index is the statement's position in the call (-1: the request itself was bad).
	Index int `json:"index"`
	// Statement is the SQL as it was run.
	Statement string `json:"statement"`
	// Message is ClickHouse's error, such as "Code: 47. DB::Exception: ...".
	Message string `json:"message"`
}

// Error names the statement and quotes ClickHouse's error.
func (e *StatementError) Error() string {
	return fmt.Sprintf("chcurrent: statement %d failed on current ClickHouse: %s\nstatement: %s", e.Index, e.Message, e.Statement)
}

// New starts a runner with a fresh session in a directory of its own, for this test
// alone; it is stopped and the directory removed when the test ends. The test fails
// (never skips) when the venv is missing.
func New(t testing.TB) *Session {
	t.Helper()
	dir := t.TempDir()
	return newSession(t, func() (*Session, error) { return start(dir) })
}

// newSession is New with the way to start the runner given.
func newSession(t testing.TB, start func() (*Session, error)) *Session {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatalf("%v", err)
		return nil
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return s
}

// shared is the test binary's one session. A runner costs about 0.3 to 0.8 s to start and
// holds about 290 MiB, so the tests of a package share one, each in its own database. It
// is never closed: the runner ends (and removes its directory) when its stdin closes,
// which happens when the test binary exits.
var shared struct {
	once sync.Once
	s    *Session
	err  error
}

// Shared returns the session that every test of this test binary shares, started on
// first use. The test fails (never skips) when the venv is missing.
func Shared(t testing.TB) *Session {
	t.Helper()
	shared.once.Do(func() { shared.s, shared.err = start("") })
	if shared.err != nil {
		t.Fatalf("%v", shared.err)
	}
	return shared.s
}

// start finds the module root and starts the runner there, with its session in dir (""
// for a temporary directory that the runner removes when it ends).
func start(dir string) (*Session, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, fmt.Errorf("chcurrent: %w", err)
	}
	return startIn(root, dir)
}

// ErrNoVenv is matched (errors.Is) by the error of a start without the venv.
var ErrNoVenv = errors.New("the Python venv with chdb is missing")

// startIn starts the runner of the module rooted at root, with its session in dir, and
// asks for the version, which also proves that chdb loads.
func startIn(root, dir string) (*Session, error) {
	python := filepath.Join(root, pythonPath)
	if _, err := os.Stat(python); err != nil {
		return nil, fmt.Errorf("chcurrent: %w (%s: %v): run `%s` (make test does)", ErrNoVenv, python, err, InstallHint)
	}
	args := []string{filepath.Join(root, runnerPath)}
	if dir != "" {
		args = append(args, dir)
	}
	cmd := exec.Command(python, args...)
	// The local server runs in UTC; so does this one, so that times print alike.
	cmd.Env = append(os.Environ(), "TZ=UTC")
	cmd.Dir = root
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("chcurrent: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("chcurrent: %w", err)
	}
	s := &Session{cmd: cmd, stdin: stdin, stdout: bufio.NewReader(stdout), stderr: &tailBuffer{max: 8 << 10}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("chcurrent: start %s: %w", python, err)
	}
	// Loading the engine takes well under a second; a start that hangs fails instead.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := s.Query(ctx, "SELECT version()")
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("%w (if chdb is missing from the venv, run `%s`)", err, InstallHint)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		_ = s.Close()
		return nil, fmt.Errorf("chcurrent: SELECT version() answered %v", res.Rows)
	}
	_ = json.Unmarshal([]byte(res.Rows[0][0]), &s.version)
	return s, nil
}

// Version is the engine's ClickHouse version, such as 26.9.2.1.
func (s *Session) Version() string { return s.version }

// reply is the runner's answer to one request.
type reply struct {
	Results []*rawResult    `json:"results"`
	Error   *StatementError `json:"error"`
}

// rawResult is one statement's JSONCompact output.
type rawResult struct {
	Meta []Column            `json:"meta"`
	Data [][]json.RawMessage `json:"data"`
}

// Run runs statements (literal SQL, see Bind) in order and returns each one's result (an
// empty Result for a statement without output). It stops at the first statement that
// fails and returns the results before it with a *StatementError. When ctx ends first,
// the runner is killed and the session cannot be used again.
func (s *Session) Run(ctx context.Context, statements ...string) ([]Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return nil, s.broken
	}
	line, err := json.Marshal(statements)
	if err != nil {
		return nil, fmt.Errorf("chcurrent: %w", err)
	}
	stop := context.AfterFunc(ctx, func() {
		s.killed.Store(true)
		_ = s.cmd.Process.Kill()
	})
	raw, err := s.roundTrip(append(line, '\n'))
	if !stop() {
		err = fmt.Errorf("chcurrent: %w (the runner was stopped)", ctx.Err())
	}
	if err != nil {
		s.broken = err
		return nil, err
	}
	var r reply
	if err := json.Unmarshal(raw, &r); err != nil {
		s.broken = fmt.Errorf("chcurrent: the runner answered something else than JSON: %w: %.500s", err, raw)
		return nil, s.broken
	}
	results := make([]Result, 0, len(r.Results))
	for i, rr := range r.Results {
		res, err := rr.canonical()
		if err != nil {
			return results, fmt.Errorf("chcurrent: statement %d: %w", i, err)
		}
		results = append(results, res)
	}
	if r.Error != nil {
		return results, r.Error
	}
	return results, nil
}

// roundTrip writes one request line and reads one answer line.
func (s *Session) roundTrip(line []byte) ([]byte, error) {
	if _, err := s.stdin.Write(line); err != nil {
		return nil, s.exited(err)
	}
	raw, err := s.stdout.ReadBytes('\n')
	if err != nil {
		return nil, s.exited(err)
	}
	return raw, nil
}

// exited describes a runner that went away, with the end of what it wrote to stderr.
func (s *Session) exited(err error) error {
	return fmt.Errorf("chcurrent: the runner stopped (%v); its stderr ends with:\n%s", err, s.stderr.String())
}

// Query binds args into sql (see Bind) and runs it.
func (s *Session) Query(ctx context.Context, sql string, args ...any) (Result, error) {
	bound, err := Bind(sql, args...)
	if err != nil {
		return Result{}, err
	}
	res, err := s.Run(ctx, bound)
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
}

// Exec binds args into sql and runs it, for statements whose output does not matter.
func (s *Session) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := s.Query(ctx, sql, args...)
	return err
}

// NewDatabase creates a database for this test in the session and returns its name; it
// is dropped when the test ends.
func (s *Session) NewDatabase(t testing.TB) string {
	t.Helper()
	name := uniqueName(t)
	s.CreateDatabase(t, name)
	return name
}

// CreateDatabase creates database name in the session, dropped when the test ends: give
// it the name of the test's database on the 18.16 server, and the same SQL runs on both.
func (s *Session) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	quoted := warehouse.QuoteIdentifier(name)
	if err := s.Exec(context.Background(), "CREATE DATABASE "+quoted); err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := s.Exec(context.Background(), "DROP DATABASE IF EXISTS "+quoted); err != nil {
			t.Errorf("%v", err)
		}
	})
}

// uniqueName builds a database name from the test's name and random bits.
func uniqueName(t testing.TB) string {
	var b strings.Builder
	b.WriteString("c_")
	for _, r := range strings.ToLower(t.Name()) {
		if b.Len() >= 80 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	return b.String() + "_" + hex.EncodeToString(suffix)
}

// Close ends the runner: it closes the session and removes its directory.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.broken == nil {
		s.broken = errors.New("chcurrent: the session is closed")
	}
	_ = s.stdin.Close()
	err := s.cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		// Some statement failed: its caller has been told.
	case s.killed.Load():
		// Killed when a call's context ended: that call has said so.
	default:
		return fmt.Errorf("chcurrent: the runner ended with %v; its stderr ends with:\n%s", err, s.stderr.String())
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = bytes.Clone(b.buf[over:])
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
