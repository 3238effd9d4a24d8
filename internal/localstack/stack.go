package localstack

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Stack is the set of local servers of one profile, rooted at one directory.
type Stack struct {
	// Dir is the absolute root of the stack's data, logs and pid files.
	Dir string
	// Postgres is the PostgreSQL server.
	Postgres *Postgres
	// ClickHouse is the ClickHouse server.
	ClickHouse *ClickHouse
	// Kafka is the Apache Kafka broker, or nil when the stack runs none.
	Kafka *Kafka
}

// NewStack lays out a stack in dir on the given ports. kafkaLibDir empty means no Kafka.
func NewStack(dir string, p Ports, kafkaLibDir string) (*Stack, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, err
	}
	s := &Stack{Dir: abs, Postgres: NewPostgres(abs, p.Postgres), ClickHouse: NewClickHouse(abs, p)}
	if s.Postgres.Dir != filepath.Join(abs, "postgres") {
		// Say where PostgreSQL's data went (PostgresDataDir), for whoever looks here.
		note := s.Postgres.Dir + "\n"
		if err := os.WriteFile(filepath.Join(abs, "postgres.location"), []byte(note), 0o644); err != nil {
			return nil, err
		}
	}
	if kafkaLibDir != "" {
		lib, err := filepath.Abs(kafkaLibDir)
		if err != nil {
			return nil, err
		}
		s.Kafka = NewKafka(abs, lib, p)
	}
	return s, nil
}

// Servers lists the stack's servers in start order.
func (s *Stack) Servers() []Server {
	out := []Server{s.Postgres, s.ClickHouse}
	if s.Kafka != nil {
		out = append(out, s.Kafka)
	}
	return out
}

// TestEnv is what integration tests need to reach the stack, as the environment
// variables that internal/testenv reads.
func (s *Stack) TestEnv() map[string]string {
	env := map[string]string{
		"STELLER_TEST_POSTGRES_URL":    s.Postgres.URL("postgres"),
		"STELLER_TEST_CLICKHOUSE_ADDR": s.ClickHouse.Addr(),
	}
	if s.Kafka != nil {
		env["STELLER_TEST_KAFKA_BROKERS"] = s.Kafka.Addr()
	}
	return env
}

// EnvFileName is the file, in the stack's directory, holding TestEnv as KEY=VALUE lines.
const EnvFileName = "stack.env"

// WriteEnvFile writes TestEnv to Dir/stack.env, readable by a shell (`set -a; . file`)
// and by internal/testenv.
func (s *Stack) WriteEnvFile() error {
	env := s.TestEnv()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by `steller stack up`: how tests reach the local servers.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, env[k])
	}
	return os.WriteFile(filepath.Join(s.Dir, EnvFileName), []byte(b.String()), 0o644)
}
