package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v3"
)

// Spec is what one subcommand reads: its settings, those that must be set, and a check
// across settings (for example "one of two must be set"). Its problems are reported
// together with the settings' own.
type Spec struct {
	// Settings are the flag names of the settings the subcommand reads.
	Settings []string
	// Required are the settings that must not be empty.
	Required []string
	// Check validates combinations of settings; nil means none.
	Check func(Config) error
}

// Load parses and validates the spec's settings; value returns a setting's raw value.
func (s Spec) Load(value func(Setting) string) (Config, error) {
	c, err := Load(Lookup(s.Settings...), s.Required, value)
	if s.Check != nil {
		err = errors.Join(err, s.Check(c))
	}
	return c, err
}

// Flags turns the spec's settings into command-line flags that also read their
// environment variables, so --help lists each setting with its variable and default.
func (s Spec) Flags() []cli.Flag {
	settings := Lookup(s.Settings...)
	flags := make([]cli.Flag, 0, len(settings))
	for _, st := range settings {
		flags = append(flags, &cli.StringFlag{
			Name:    st.Flag,
			Usage:   st.Usage,
			Value:   st.Default,
			Sources: cli.EnvVars(st.Env...),
		})
	}
	return flags
}

// Action adapts a function taking a validated Config into the subcommand's action; an
// invalid configuration stops it before anything starts, listing every problem.
func (s Spec) Action(run func(ctx context.Context, c Config) error) cli.ActionFunc {
	return func(ctx context.Context, cmd *cli.Command) error {
		c, err := s.Load(func(st Setting) string { return cmd.String(st.Flag) })
		if err != nil {
			return fmt.Errorf("invalid configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		}
		return run(ctx, c)
	}
}

// Logger builds the process logger from the log settings.
func (c Config) Logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
