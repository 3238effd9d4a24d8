package gateway_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/gateway-plugin/edgesync"
	"github.com/steller/platform/gateway-plugin/gateway"
	"github.com/steller/platform/policies"
)

// Example wires the built-in gateway by hand, as `steller gateway` does: a key source
// (a static file here; edgesync.NewClient for a control plane), the policy engine, the
// core, and the gateway served until the context ends.
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	keys, err := edgesync.NewFileSource(edgesync.FileConfig{Path: "edge-keys.json", Logger: log})
	if err != nil {
		log.Error("keys", "err", err)
		return
	}
	go func() { _ = keys.Run(ctx) }()
	engine, err := policies.New(policies.Config{Logger: log})
	if err != nil {
		log.Error("policies", "err", err)
		return
	}
	// The upstreams verify the signature with the same secrets (edgesign.NewVerifier).
	signer, err := edgesign.NewSigner([]string{os.Getenv("STELLER_EDGE_SIGNING_SECRETS")})
	if err != nil {
		log.Error("signer", "err", err)
		return
	}
	core, err := edge.New(edge.Config{
		Keys: keys, Authorizer: engine, Logger: log, Signer: signer,
		SandboxUpstream: "http://127.0.0.1:8081", LiveUpstream: "http://127.0.0.1:8082",
	})
	if err != nil {
		log.Error("core", "err", err)
		return
	}
	g, err := gateway.New(gateway.Config{Core: core, Emitter: requestlog.Nop{}, Logger: log, TrustedProxies: []string{"127.0.0.1"}})
	if err != nil {
		log.Error("gateway", "err", err)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:8000")
	if err != nil {
		log.Error("listen", "err", err)
		return
	}
	if err := g.Serve(ctx, ln, 10*time.Second); err != nil {
		log.Error("serve", "err", err)
	}
}
