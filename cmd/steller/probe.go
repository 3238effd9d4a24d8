package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/urfave/cli/v3"
)

// probeCommand lets container healthchecks ask a service's /healthz or /readyz without a
// shell or curl in the image.
func probeCommand() *cli.Command {
	return &cli.Command{
		Name:      "probe",
		Usage:     "exit 0 when the URL answers 200 within the timeout (for container healthchecks)",
		ArgsUsage: "URL",
		Flags:     []cli.Flag{&cli.DurationFlag{Name: "timeout", Value: 3 * time.Second, Usage: "how long to wait for the answer"}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return errors.New("probe takes exactly one URL")
			}
			ctx, cancel := context.WithTimeout(ctx, cmd.Duration("timeout"))
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, cmd.Args().First(), nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s answered %s", req.URL, resp.Status)
			}
			return nil
		},
	}
}
