package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/urfave/cli/v3"

	"github.com/steller/platform/internal/config"
)

// openAPICommand prints the management API's OpenAPI document without any server: the
// control plane is wired with connections that are never opened, so SDK generators and
// marketplace listings can take the document from a build.
func openAPICommand() *cli.Command {
	return &cli.Command{
		Name:  "openapi",
		Usage: "print the control plane's OpenAPI 3.1 document (JSON) without any server",
		Flags: []cli.Flag{&cli.StringFlag{Name: "api", Value: "management", Usage: "which API: management"}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.String("api") != "management" {
				return fmt.Errorf("--api %q: only the management API's document is printed by this build", cmd.String("api"))
			}
			return printOpenAPI(ctx, cmd.Root().Writer)
		},
	}
}

// printOpenAPI writes the management API's document to w.
func printOpenAPI(ctx context.Context, w io.Writer) error {
	c := config.Config{
		// Placeholders: nothing connects to them. Port 1 on loopback refuses at once should
		// anything try.
		PostgresURL: "postgres://offline@127.0.0.1:1/offline", ClickHouseAddr: "127.0.0.1:1",
		ClickHouseDatabase: "steller", ClickHouseUser: "default", KafkaBrokers: []string{"127.0.0.1:1"},
		EdgeTokens: []string{"offline-openapi-token-unused"}, OrderEventTopic: "steller.order-events.v1",
		WebhookDelivery: false,
	}
	cp, err := wireControlPlane(ctx, c, slog.New(slog.DiscardHandler), true)
	if err != nil {
		return fmt.Errorf("openapi: wire the control plane: %w", err)
	}
	defer cp.Close()
	raw, err := cp.api.Huma().OpenAPI().MarshalJSON()
	if err != nil {
		return errors.Join(errors.New("openapi: encode"), err)
	}
	_, err = w.Write(append(raw, '\n'))
	return err
}
