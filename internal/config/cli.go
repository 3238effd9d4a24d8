package config

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v3"
)

// Flags turns settings into command-line flags that also read their environment
// variables, so --help lists each setting with its variable and default.
func Flags(settings []Setting) []cli.Flag {
	flags := make([]cli.Flag, 0, len(settings))
	for _, s := range settings {
		flags = append(flags, &cli.StringFlag{
			Name:    s.Flag,
			Usage:   s.Usage,
			Value:   s.Default,
			Sources: cli.EnvVars(s.Env...),
		})
	}
	return flags
}

// FromCommand loads the given settings from a parsed command (flags, then environment,
// then defaults) and validates them together.
func FromCommand(cmd *cli.Command, settings []Setting, required []string) (Config, error) {
	c, err := Load(settings, required, func(s Setting) string { return cmd.String(s.Flag) })
	if err != nil {
		return c, fmt.Errorf("invalid configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	return c, nil
}

// Logger builds the process logger from the log settings.
func (c Config) Logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// Action adapts a function taking a validated Config into a cli action for a command
// that declared the given settings, of which required must be set.
func Action(settings []Setting, required []string, run func(ctx context.Context, c Config) error) cli.ActionFunc {
	return func(ctx context.Context, cmd *cli.Command) error {
		c, err := FromCommand(cmd, settings, required)
		if err != nil {
			return err
		}
		return run(ctx, c)
	}
}
