package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Server returns an http.Server for the gateway with header and idle timeouts; there is no
// write timeout, because responses are streamed.
func (g *Gateway) Server(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           g,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          g.proxy.ErrorLog,
	}
}

// Serve serves the gateway on ln until ctx is done, then shuts down gracefully: it stops
// accepting, and waits up to grace for requests in flight to finish. It returns nil after a
// clean shutdown.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := g.Server(ln.Addr().String())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}
