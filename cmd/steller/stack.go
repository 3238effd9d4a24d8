package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/steller/platform/internal/config"
	"github.com/steller/platform/internal/localstack"
)

var stackSpec = config.Spec{Settings: []string{
	config.LogLevel, config.LogFormat, config.StackProfile, config.StackDir, config.StackKafka, config.KafkaLibDir, config.PortOffset,
}}

func stackCommand() *cli.Command {
	flags := stackSpec.Flags()
	return &cli.Command{
		Name:  "stack",
		Usage: "run the local PostgreSQL, ClickHouse and Apache Kafka servers in the background (make test uses it)",
		Description: "The servers run detached with pid files and logs in the stack directory; " +
			"`up` is idempotent and writes stack.env, which internal/testenv reads.",
		Commands: []*cli.Command{
			{Name: "up", Usage: "start the servers (those already running are left alone)", Flags: flags,
				Action: stackSpec.Action(stackUp)},
			{Name: "down", Usage: "stop the servers this stack started", Flags: flags,
				Action: stackSpec.Action(stackDown)},
		},
	}
}

func newStack(c config.Config) (*localstack.Stack, error) {
	ports := localstack.TestPorts()
	if c.StackProfile == "dev" {
		ports = localstack.DevPorts()
	}
	ports = ports.Shift(c.PortOffset)
	dir := c.StackDir
	if dir == "" {
		dir = filepath.Join(".local", c.StackProfile)
	}
	lib := ""
	if c.StackKafka == "apache" {
		lib = c.KafkaLibDir
	}
	return localstack.NewStack(dir, ports, lib)
}

func stackUp(ctx context.Context, c config.Config) error {
	logger := c.Logger()
	stack, err := newStack(c)
	if err != nil {
		return err
	}
	for _, srv := range stack.Servers() {
		pid, err := localstack.StartDetached(ctx, stack.Dir, srv)
		if err != nil {
			return err
		}
		logger.Info("server up", "server", srv.Name(), "pid", pid)
	}
	if err := stack.WriteEnvFile(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "stack up; tests read %s\n", filepath.Join(stack.Dir, localstack.EnvFileName))
	return nil
}

func stackDown(_ context.Context, c config.Config) error {
	logger := c.Logger()
	c.StackKafka = "apache" // stop a broker even if this call does not name one
	stack, err := newStack(c)
	if err != nil {
		return err
	}
	servers := stack.Servers()
	var errs []error
	for i := len(servers) - 1; i >= 0; i-- {
		if err := localstack.StopDetached(stack.Dir, servers[i]); err != nil {
			errs = append(errs, err)
			continue
		}
		logger.Info("server down", "server", servers[i].Name())
	}
	_ = os.Remove(filepath.Join(stack.Dir, localstack.EnvFileName))
	return errors.Join(errs...)
}
