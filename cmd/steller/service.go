package main

import (
	"context"
	"errors"

	"golang.org/x/sync/errgroup"

	"github.com/steller/platform/internal/server"
)

// service is a long-running subcommand's body: an HTTP server (its own API, or only the
// operational endpoints) and background workers, stopped together when ctx ends.
type service struct {
	ops     *server.Server
	workers []func(context.Context) error
	close   func()
}

// URL is the service's HTTP base URL.
func (s *service) URL() string { return s.ops.URL() }

// OpsURL is the base URL of the service's /readyz and /metrics (URL when they share it).
func (s *service) OpsURL() string { return s.ops.OpsURL() }

// Close releases the service's connections.
func (s *service) Close() {
	if s.close != nil {
		s.close()
	}
}

// Run serves and runs the workers until ctx ends or one of them fails.
func (s *service) Run(ctx context.Context) error {
	group, ctx := errgroup.WithContext(ctx)
	group.Go(func() error { return s.ops.Run(ctx) })
	for _, w := range s.workers {
		group.Go(func() error {
			if err := w(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		})
	}
	return group.Wait()
}
