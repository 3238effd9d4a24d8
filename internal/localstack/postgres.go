package localstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// Postgres is a PostgreSQL server from Debian's packages in a private data directory.
// Authentication is "trust" on 127.0.0.1 only: it is a local development and test server.
type Postgres struct {
	// Dir is the data directory (created by initdb on first Prepare).
	Dir string
	// Port is the TCP port on 127.0.0.1.
	Port int
	// User is the superuser initdb creates.
	User string
}

// NewPostgres returns the PostgreSQL server of a stack rooted at dir; its data directory
// is PostgresDataDir(dir).
func NewPostgres(dir string, port int) *Postgres {
	return &Postgres{Dir: PostgresDataDir(dir), Port: port, User: "steller"}
}

// sharedPostgresRoot holds the data directories of stacks the postgres user cannot reach.
const sharedPostgresRoot = "/var/tmp/steller-postgres"

// PostgresDataDir is where the stack rooted at dir keeps PostgreSQL's data: dir/postgres,
// unless PostgreSQL must run as the postgres user (the stack runs as root) and that user
// cannot reach dir, as in a clone under root's mode-700 home. Then it is a directory of
// its own under /var/tmp/steller-postgres, named by a hash of dir so every stack keeps
// its own data across runs; dir/postgres.location names it.
func PostgresDataDir(dir string) string {
	local := filepath.Join(dir, "postgres")
	if os.Geteuid() != 0 || searchableByOthers(dir) == nil {
		return local
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(sharedPostgresRoot, hex.EncodeToString(sum[:8]))
}

// Name implements Server.
func (p *Postgres) Name() string { return "postgres" }

// CommandDir implements Located: the command line names the data directory (-D), which
// may lie outside the stack (PostgresDataDir).
func (p *Postgres) CommandDir() string { return p.Dir }

// StopSignal implements Server: SIGINT is PostgreSQL's "fast" shutdown.
func (p *Postgres) StopSignal() StopSignal { return SigInt }

// URL is the connection URL of database db.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", p.User, p.Port, db)
}

// binDir finds the newest installed PostgreSQL server binaries.
func (p *Postgres) binDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(matches) == 0 {
		return "", fmt.Errorf("postgres %w", ErrNotInstalled)
	}
	sort.Slice(matches, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[j]))))
		return vi < vj
	})
	return filepath.Dir(matches[len(matches)-1]), nil
}

// Prepare runs initdb once; a data directory that already has PG_VERSION is reused.
func (p *Postgres) Prepare(ctx context.Context) error {
	bin, err := p.binDir()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(p.Dir, "PG_VERSION")); err == nil {
		return nil
	}
	if strings.HasPrefix(p.Dir, sharedPostgresRoot+"/") {
		// Reachable by the postgres user, listable by nobody else.
		if err := os.MkdirAll(sharedPostgresRoot, 0o711); err != nil {
			return err
		}
		if err := os.Chmod(sharedPostgresRoot, 0o711); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return err
	}
	cred, err := serverCredential()
	if err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(p.Dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
		if err := searchableByOthers(filepath.Dir(p.Dir)); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"--pgdata", p.Dir, "--username", p.User, "--auth", "trust", "--encoding", "UTF8", "--locale", "C.UTF-8")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

// Command implements Server. Settings favour a fast, disposable server: no fsync, since
// the data is local development or test data.
func (p *Postgres) Command() *exec.Cmd {
	bin, _ := p.binDir()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", p.Dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(p.Port),
		"-c", "unix_socket_directories="+p.Dir,
		"-c", "max_connections=300",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
	)
	cred, _ := serverCredential()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd
}

// Ready implements Server by connecting and running a query.
func (p *Postgres) Ready(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.Ping(ctx)
}

// EnsureDatabase creates database name unless it exists.
func (p *Postgres) EnsureDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// searchableByOthers checks that another user (postgres) can reach dir: every directory
// on the way must be searchable by others.
func searchableByOthers(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for d := abs; ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("postgres runs as the postgres user, who cannot enter %s: allow it (chmod o+x %s) or pick another data dir", d, d)
		}
		if d == "/" {
			return nil
		}
	}
}

// serverCredential is who PostgreSQL runs as: itself refuses to run as root, so as root
// it runs as the "postgres" user of the Debian package; otherwise as the current user.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres system user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
