package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v3"

	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/internal/config"
)

var adminSpec = config.Spec{
	Settings: []string{config.LogLevel, config.LogFormat, config.PostgresURL},
	Required: []string{config.PostgresURL},
}

// createAdminCommand creates a platform admin: admins are a separate kind of user that
// no API can create, so the first one comes from the operator's shell.
func createAdminCommand() *cli.Command {
	flags := append(adminSpec.Flags(),
		&cli.StringFlag{Name: "email", Usage: "the admin's e-mail address", Required: true},
		&cli.StringFlag{Name: "name", Usage: "the admin's name", Required: true},
	)
	return &cli.Command{
		Name:        "create-admin",
		Usage:       "create a platform admin (the password is read from STELLER_ADMIN_PASSWORD)",
		Description: "The password comes from the environment, never a flag, so it stays out of shell history and process lists.",
		Flags:       flags,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			return adminSpec.Action(func(ctx context.Context, c config.Config) error {
				password := os.Getenv("STELLER_ADMIN_PASSWORD")
				if password == "" {
					return errors.New("set STELLER_ADMIN_PASSWORD to the new admin's password")
				}
				pool, err := pgxpool.New(ctx, c.PostgresURL)
				if err != nil {
					return err
				}
				defer pool.Close()
				id, err := account.CreateAdmin(ctx, pool, cmd.String("email"), cmd.String("name"), password)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stdout, "admin %s created (%s)\n", cmd.String("email"), id)
				return nil
			})(ctx, cmd)
		},
	}
}
