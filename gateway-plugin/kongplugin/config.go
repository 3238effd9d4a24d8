// Package kongplugin owns the steller-edge Kong plugin: a go-pdk host for the edge decision
// core. Kong runs it as an embedded plugin server (the steller-edge binary); each plugin
// instance's Config decides requests in the access phase and emits the request-log event
// in the log phase.
//
// PDK calls are round trips between Kong and this process, so the plugin makes a small,
// fixed number per request:
//
//	access, allowed: kong.request.get_headers, kong.client.get_forwarded_ip,
//	                 kong.request.get_method, kong.request.get_path,
//	                 kong.service.set_target, kong.service.request.set_headers   (6)
//	access, denied:  the four reads, then kong.response.exit                     (5)
//	log:             kong.log.serialize                                          (1)
//
// State passes from access to log in a bounded in-process table keyed by the request id
// the edge minted, which the log phase finds in the serialized request headers (the access
// phase set X-Request-Id on the request with set_headers, replacing the client's, and Kong
// serializes the request headers as modified). Denied requests are logged from the access phase, since their answer is
// known there.
//
// Plugin instances with equal settings share one edge: key source, policy engine and
// request-log emitter, with their background work. An edge is built on the first request
// of its settings; a build that fails (an unusable spool directory, say) closes what it
// opened and starts nothing, and its requests are answered 500 for RetryAfter before the
// next request builds again. Kong replaces a plugin config by starting a new instance and
// closing the old one, and go-pdk then drops the old Config without telling it. Once the
// garbage collector finds that no Config uses an edge any more (at its next cycle; the Go
// runtime forces one at least every two minutes), and no phase runs on it and no request
// awaits its log phase, the edge is closed Deps.ReleaseAfter later (DefaultReleaseAfter in
// the binary): its key sync and policy polling stop, its connections close, and its
// emitter hands its queue to Kafka or the spool. lifecycle.go explains how.
package kongplugin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/steller/platform/contract/edgesign"
)

// Plugin identity reported to Kong (-dump).
const (
	// Name is the plugin name; Kong takes it from the binary's file name.
	Name = "steller-edge"
	// Version is the plugin version.
	Version = "0.1.0"
	// Priority runs the plugin before Kong's bundled auth plugins (key-auth is 1250).
	Priority = 1300
)

// Config is the plugin configuration as written in kong.yml. The JSON tags are the schema
// field names Kong sees; there are no int64 fields because go-pdk leaves them out of the
// schema. One Config value serves all concurrent requests of its plugin instance; its
// unexported fields hold the instance's link to the shared edge.
type Config struct {
	// SandboxUpstreamURL is where test keys go (http(s)://host:port).
	SandboxUpstreamURL string `json:"sandbox_upstream_url"`
	// LiveUpstreamURL is where live keys go.
	LiveUpstreamURL string `json:"live_upstream_url"`
	// ControlPlaneURL is the control plane serving the edge sync protocol; when set, keys
	// come from it.
	ControlPlaneURL string `json:"control_plane_url"`
	// EdgeToken authenticates this edge to the control plane (and to the policy bundle
	// URL). Empty means the STELLER_EDGE_TOKEN environment variable of the plugin server,
	// so the secret can stay out of kong.yml.
	EdgeToken string `json:"edge_token"`
	// EdgeSigningSecrets are the edge signing secrets (contract/edgesign), the one that signs
	// first and, during a rotation, the other; upstreams verify with the same list. Empty
	// means the plugin server's STELLER_EDGE_SIGNING_SECRETS (comma-separated), so the
	// secrets can stay out of kong.yml.
	EdgeSigningSecrets []string `json:"edge_signing_secrets"`
	// SnapshotPath keeps the last good key snapshot on disk (optional).
	SnapshotPath string `json:"snapshot_path"`
	// KeysFile is a static keys file (edgesync.File JSON), used when ControlPlaneURL is
	// empty (local runs).
	KeysFile string `json:"keys_file"`
	// PolicyBundleURL, when set, is polled for OPA bundles (with ETags); otherwise the
	// embedded default policy is used.
	PolicyBundleURL string `json:"policy_bundle_url"`
	// KafkaBrokers receive request-log events (used by the Kafka emitter).
	KafkaBrokers []string `json:"kafka_brokers"`
	// KafkaTopic is the request-log topic; empty means steller.request-logs.v1.
	KafkaTopic string `json:"kafka_topic"`
	// SpoolDir holds the on-disk spool of request-log events while Kafka is unreachable;
	// each configuration gets a subdirectory. Empty means DefaultSpoolDir.
	SpoolDir string `json:"spool_dir"`
	// APIKeyHeader is the header carrying a key besides Authorization; empty means
	// X-Api-Key.
	APIKeyHeader string `json:"api_key_header"`
	// RequestIDHeader is where a client's own request id comes in (kept, when valid, as
	// the event's client_request_id) and where the upstream gets the edge-minted request
	// id besides X-Request-Id; empty means X-Request-Id.
	RequestIDHeader string `json:"request_id_header"`

	plugin *Plugin
	once   sync.Once
	key    string // hash of the exported fields, computed once
	names  headerNames
	bound  atomic.Pointer[binding] // the edge this Config uses, so requests skip the Plugin's lock
}

// headerNames are the lower-cased header names a Config reads (Kong gives lower-case keys).
type headerNames struct {
	authorization, apiKey, requestID, userAgent, contentLength, idempotencyKey string
}

// init computes what a Config derives from its fields; Kong never changes a Config after
// decoding it, so this runs once per instance.
func (c *Config) init() {
	c.once.Do(func() {
		raw, _ := json.Marshal(c) // exported fields only; cannot fail for these types
		sum := sha256.Sum256(raw)
		c.key = hex.EncodeToString(sum[:])
		c.names = headerNames{
			authorization:  "authorization",
			apiKey:         strings.ToLower(orDefault(c.APIKeyHeader, "X-Api-Key")),
			requestID:      strings.ToLower(orDefault(c.RequestIDHeader, "X-Request-Id")),
			userAgent:      "user-agent",
			contentLength:  "content-length",
			idempotencyKey: "idempotency-key",
		}
	})
}

// EdgeTokenEnv is the environment variable that supplies the edge token when the config
// leaves edge_token empty.
const EdgeTokenEnv = "STELLER_EDGE_TOKEN"

// edgeToken is the configured token, else the plugin server's environment's.
func (c *Config) edgeToken() string {
	if c.EdgeToken != "" {
		return c.EdgeToken
	}
	return os.Getenv(EdgeTokenEnv)
}

// EdgeSigningSecretsEnv is the environment variable that supplies the edge signing secrets
// (comma-separated) when the config leaves edge_signing_secrets empty.
const EdgeSigningSecretsEnv = "STELLER_EDGE_SIGNING_SECRETS"

// signingSecrets are the configured secrets, else the plugin server's environment's.
func (c *Config) signingSecrets() []string {
	if len(c.EdgeSigningSecrets) > 0 {
		return c.EdgeSigningSecrets
	}
	var secrets []string
	for s := range strings.SplitSeq(os.Getenv(EdgeSigningSecretsEnv), ",") {
		if s = strings.TrimSpace(s); s != "" {
			secrets = append(secrets, s)
		}
	}
	return secrets
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// Validate reports every problem of the configuration together.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := target(c.SandboxUpstreamURL); err != nil {
		errs = append(errs, fmt.Errorf("sandbox_upstream_url: %w", err))
	}
	if _, _, err := target(c.LiveUpstreamURL); err != nil {
		errs = append(errs, fmt.Errorf("live_upstream_url: %w", err))
	}
	if _, err := edgesign.ParseSecrets(c.signingSecrets()); err != nil {
		errs = append(errs, fmt.Errorf("edge_signing_secrets (or the plugin server's %s): %w", EdgeSigningSecretsEnv, err))
	}
	switch {
	case c.ControlPlaneURL != "" && c.edgeToken() == "":
		errs = append(errs, errors.New("edge_token (or the plugin server's "+EdgeTokenEnv+") is required with control_plane_url"))
	case c.ControlPlaneURL == "" && c.KeysFile == "":
		errs = append(errs, errors.New("one of control_plane_url or keys_file is required"))
	}
	return errors.Join(errs...)
}

// target splits an upstream URL into the host and port that kong.service.set_target takes.
// The host may also name a Kong upstream entity, which Kong then balances.
func target(raw string) (string, int, error) {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", 0, fmt.Errorf("must be an absolute http(s) URL, got %q", raw)
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return "", 0, fmt.Errorf("bad port in %q", raw)
		}
		port = n
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		host = "[" + host + "]" // nginx wants IPv6 literals bracketed
	}
	return host, port, nil
}
