// Package localstack owns the real servers Steller runs on a developer's machine and in CI:
// PostgreSQL and ClickHouse from Debian's packages and Apache Kafka from Maven Central jars,
// each in a private data directory on private 127.0.0.1 ports. It prepares a server's data
// directory (initdb, config files, KRaft storage format), builds its command, waits until
// it answers, and either supervises it as a child (steller dev) or leaves it running in the
// background with a pid file (steller stack up, used by make test).
package localstack

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"
)

// Server is one local server the stack can run.
type Server interface {
	// Name identifies the server in logs and pid files.
	Name() string
	// Prepare makes the data directory ready (idempotent: a second run reuses the data).
	Prepare(ctx context.Context) error
	// Command builds the long-running server process.
	Command() *exec.Cmd
	// Ready returns nil once the server answers requests.
	Ready(ctx context.Context) error
	// StopSignal is the signal that asks the server for a fast clean shutdown.
	StopSignal() StopSignal
}

// Located is a Server whose command line names a directory other than its stack's (a
// PostgreSQL data directory moved out of a stack the postgres user cannot enter): that
// directory identifies its process instead.
type Located interface {
	// CommandDir is a directory the server's command line always names.
	CommandDir() string
}

// StopSignal names the signal a server stops cleanly on.
type StopSignal int

// Stop signals.
const (
	SigTerm StopSignal = iota
	SigInt
)

// Ports is one set of private ports, so a dev stack and a test stack can run side by side.
type Ports struct {
	// Postgres is PostgreSQL's TCP port.
	Postgres int
	// ClickHouseTCP is ClickHouse's native-protocol port.
	ClickHouseTCP int
	// ClickHouseHTTP is ClickHouse's HTTP port (ping and manual queries).
	ClickHouseHTTP int
	// ClickHouseInterserver is ClickHouse's replication port, bound to loopback and unused.
	ClickHouseInterserver int
	// Kafka is the Kafka client listener.
	Kafka int
	// KafkaController is the KRaft controller listener.
	KafkaController int
}

// Shift returns the ports moved up by offset.
func (p Ports) Shift(offset int) Ports {
	return Ports{
		Postgres: p.Postgres + offset, ClickHouseTCP: p.ClickHouseTCP + offset, ClickHouseHTTP: p.ClickHouseHTTP + offset,
		ClickHouseInterserver: p.ClickHouseInterserver + offset, Kafka: p.Kafka + offset, KafkaController: p.KafkaController + offset,
	}
}

// The fixed ports lie above Linux's ephemeral range (ip_local_port_range, 32768-60999 by
// default), where the kernel picks the source ports of outgoing connections: a fixed port
// inside it is taken now and then by some client's connection, and the server that wants
// it fails to bind. MaxPortOffset keeps every shifted port below 65536.
const (
	// MinFixedPort is the lowest port a stack binds, just past the ephemeral range.
	MinFixedPort = 61000
	// MaxPortOffset is the largest Shift that keeps every port valid.
	MaxPortOffset = 1000
)

// DevPorts are the ports of `steller dev`.
func DevPorts() Ports {
	return Ports{Postgres: 62432, ClickHouseTCP: 62900, ClickHouseHTTP: 62123, ClickHouseInterserver: 62909, Kafka: 62092, KafkaController: 62093}
}

// TestPorts are the ports of the stack that `make test` runs.
func TestPorts() Ports {
	return Ports{Postgres: 61432, ClickHouseTCP: 61900, ClickHouseHTTP: 61123, ClickHouseInterserver: 61909, Kafka: 61092, KafkaController: 61093}
}

// ErrNotInstalled reports a server binary that the install script has not installed yet.
var ErrNotInstalled = errors.New("not installed: run scripts/install.sh")

// WaitReady polls ready until it succeeds, ctx ends or timeout passes, and returns the
// last error when it gives up.
func WaitReady(ctx context.Context, s Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		probeCtx, probeCancel := context.WithTimeout(ctx, 2*time.Second)
		last = s.Ready(probeCtx)
		probeCancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w", s.Name(), timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
