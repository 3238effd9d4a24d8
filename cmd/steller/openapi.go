package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/internal/config"
)

// openAPICommand prints an OpenAPI document without any server: the control plane is wired
// with connections that are never opened, so SDK generators and marketplace listings can
// take the documents from a build.
func openAPICommand() *cli.Command {
	return &cli.Command{
		Name:  "openapi",
		Usage: "print an OpenAPI 3.1 document (JSON) without any server",
		Flags: []cli.Flag{&cli.StringFlag{Name: "api", Value: api.DocManagement,
			Usage: "which document: " + strings.Join(api.DocNames, ", ") + " (the whole control plane: management and admin)"}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			return printOpenAPI(ctx, cmd.Root().Writer, cmd.String("api"))
		},
	}
}

// printOpenAPI writes the document name (api.DocNames) to w.
func printOpenAPI(ctx context.Context, w io.Writer, name string) error {
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
	doc, err := cp.api.Document(name)
	if err != nil {
		return fmt.Errorf("openapi: --api: %w", err)
	}
	raw, err := doc.MarshalJSON()
	if err != nil {
		return errors.Join(errors.New("openapi: encode"), err)
	}
	_, err = w.Write(append(raw, '\n'))
	return err
}
