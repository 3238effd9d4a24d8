// Package config owns the configuration of the steller binary: every setting is declared
// once here (flag name, environment variable, default, help text and parser), each
// subcommand names the settings it reads, and Load validates them together so an operator
// sees every problem in one go.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/internal/localstack"
)

// Config is the parsed configuration of one steller process. A subcommand reads only the
// fields of the settings it declared; the others keep their zero values.
type Config struct {
	// LogLevel is the minimum level of structured logs.
	LogLevel slog.Level
	// LogFormat is "text" (human) or "json" (machines).
	LogFormat string
	// DataDir is where `steller dev` and `steller stack` keep local server data.
	DataDir string
	// PostgresURL is the PostgreSQL connection URL of the control plane.
	PostgresURL string
	// ClickHouseAddr is host:port of ClickHouse's native protocol.
	ClickHouseAddr string
	// ClickHouseDatabase is the ClickHouse database holding Steller's tables.
	ClickHouseDatabase string
	// ClickHouseUser is the ClickHouse user name.
	ClickHouseUser string
	// ClickHousePassword is the ClickHouse password.
	ClickHousePassword string
	// KafkaBrokers are the bootstrap brokers; empty in `steller dev` means the embedded broker.
	KafkaBrokers []string
	// ControlPlaneAddr is the listen address of the control plane's HTTP server.
	ControlPlaneAddr string
	// ControlPlaneOpsAddr serves the control plane's /readyz and /metrics, apart from the API.
	ControlPlaneOpsAddr string
	// ShutdownTimeout bounds graceful shutdown after SIGINT or SIGTERM.
	ShutdownTimeout time.Duration
	// StackProfile picks the port set of `steller stack`: "dev" or "test".
	StackProfile string
	// StackKafka picks the broker `steller stack` runs: "apache" (real Kafka) or "none".
	StackKafka string
	// KafkaLibDir holds the Apache Kafka jars resolved by scripts/install.sh.
	KafkaLibDir string
	// StackDir is the root of `steller stack`'s servers; empty means .local/<profile>.
	StackDir string
	// PortOffset shifts every port of the local servers, to run a second stack beside one.
	PortOffset int
	// GatewayAddr is the built-in gateway's partner-facing listen address.
	GatewayAddr string
	// GatewayOpsAddr serves the gateway's /healthz, /readyz and /metrics, apart from
	// partner traffic.
	GatewayOpsAddr string
	// SandboxUpstreamURL is where the edge sends requests made with test keys.
	SandboxUpstreamURL string
	// LiveUpstreamURL is where the edge sends requests made with live keys.
	LiveUpstreamURL string
	// EdgeKeysFile is a static keys file, the edge's key source for local runs.
	EdgeKeysFile string
	// ControlPlaneURL is the control plane the edge syncs keys (and policies) from.
	ControlPlaneURL string
	// EdgeToken authenticates the edge to the control plane.
	EdgeToken string
	// EdgeSnapshotPath keeps the edge's last good key snapshot on disk.
	EdgeSnapshotPath string
	// PolicyBundleURL is polled for OPA bundles; empty means the embedded policy.
	PolicyBundleURL string
	// TrustedProxies are the proxies whose X-Forwarded-For the gateway believes.
	TrustedProxies []string
	// EdgeTokens are the tokens the control plane accepts from edges (several for rotation).
	EdgeTokens []string
	// EdgeSigningSecrets sign (the first) and verify (all) the identity the edge forwards to
	// upstreams (contract/edgesign); two while rotating.
	EdgeSigningSecrets []string
	// EdgeSignatureWindow is how far from now an upstream accepts an edge signature's time.
	EdgeSignatureWindow time.Duration
	// CookieSecure marks the portal's session cookie Secure (behind HTTPS).
	CookieSecure bool
	// IngestAddr serves the ingest's /healthz, /readyz and /metrics.
	IngestAddr string
	// IngestGroup is the Kafka consumer group shared by every ingest process.
	IngestGroup string
	// IngestBatchSize is the most rows per ClickHouse insert.
	IngestBatchSize int
	// IngestFlushInterval is the longest an event waits for its batch.
	IngestFlushInterval time.Duration
	// RetentionDays is how many days of request logs ClickHouse keeps.
	RetentionDays int
	// SpoolDir is where the gateway's emitter spools events while Kafka is unreachable.
	SpoolDir string
	// SpoolMaxBytes bounds that spool.
	SpoolMaxBytes int64
	// RequestLogTopic is the Kafka topic of request-log events.
	RequestLogTopic string
	// OrderEventTopic is the Kafka topic of order events.
	OrderEventTopic string
	// SandboxAddr is the listen address of the sandbox gift-card vendor.
	SandboxAddr string
	// SandboxCompletionDelay is how long a sandbox order stays pending.
	SandboxCompletionDelay time.Duration
	// LiveVendorAddr is the listen address of the live vendor stand-in (local runs).
	LiveVendorAddr string
	// LiveVendorCompletionDelay is how long an order of the live vendor stand-in stays pending.
	LiveVendorCompletionDelay time.Duration
	// WebhookDelivery runs the webhook dispatcher and delivery workers in the control plane.
	WebhookDelivery bool
	// WebhookConcurrency is how many webhook deliveries one process runs at once.
	WebhookConcurrency int
	// MilestoneDetector runs the milestone detector (request logs and order events from
	// Kafka to PostgreSQL milestones) in the control plane.
	MilestoneDetector bool
	// MilestoneGroup prefixes the detector's consumer groups: <group>-requests and
	// <group>-orders.
	MilestoneGroup string
	// WebhookAllowPrivate lets webhook deliveries reach loopback and private addresses.
	WebhookAllowPrivate bool
	// WebhookAllowHTTP lets test-environment webhook endpoints use http:// URLs.
	WebhookAllowHTTP bool
	// SignupLimit bounds signups and invitation acceptances per client address (or IPv6
	// /64): Requests per Per; Requests 0 turns it off.
	SignupLimit Rate
	// LoginLimit bounds sign-in attempts per client address (or IPv6 /64).
	LoginLimit Rate
	// LoginFreeFailures is how many failed sign-ins in a row one mailbox may make before
	// each further attempt waits a doubling backoff; 0 turns the throttle off.
	LoginFreeFailures int
	// ConsoleEdgeURL is the edge the portal console sends its test orders through.
	ConsoleEdgeURL string
	// KeyLimit is the most active API keys one workspace may hold (and, apart, the most
	// rolled keys in their grace period); 0 turns it off.
	KeyLimit int
	// WebhookEndpointLimit is the most webhook endpoints one workspace may have; 0 turns it
	// off.
	WebhookEndpointLimit int
	// ConsoleOrderLimit bounds the console's test orders per partner; Requests 0 turns it off.
	ConsoleOrderLimit Rate
	// WebhookTestLimit bounds "send test event" per partner; Requests 0 turns it off.
	WebhookTestLimit Rate
	// EdgeDeadKeyGrace is how long revoked and expired keys stay on edges (answered
	// key_revoked or key_expired) before edges forget them (invalid_key).
	EdgeDeadKeyGrace time.Duration
}

// Setting declares one configuration value: its flag, environment variables, default and
// how it is parsed into Config.
type Setting struct {
	// Flag is the command-line flag name, without dashes.
	Flag string
	// Env lists the environment variables read, first match wins.
	Env []string
	// Default is the value used when neither flag nor environment sets one.
	Default string
	// Usage is the help text shown by --help.
	Usage string
	// parse validates the raw value and stores it in the Config.
	parse func(c *Config, raw string) error
}

// Names of the settings, for subcommands to declare what they read.
const (
	LogLevel           = "log-level"
	LogFormat          = "log-format"
	DataDir            = "data-dir"
	PostgresURL        = "postgres-url"
	ClickHouseAddr     = "clickhouse-addr"
	ClickHouseDatabase = "clickhouse-database"
	ClickHouseUser     = "clickhouse-user"
	ClickHousePassword = "clickhouse-password"
	KafkaBrokers       = "kafka-brokers"
	ControlPlaneAddr   = "control-plane-addr"
	ControlPlaneOps    = "control-plane-ops-addr"
	ShutdownTimeout    = "shutdown-timeout"
	StackProfile       = "profile"
	StackKafka         = "kafka"
	KafkaLibDir        = "kafka-lib-dir"
	StackDir           = "stack-dir"
	PortOffset         = "port-offset"
	GatewayAddr        = "gateway-addr"
	GatewayOpsAddr     = "gateway-ops-addr"
	SandboxUpstreamURL = "sandbox-upstream-url"
	LiveUpstreamURL    = "live-upstream-url"
	EdgeKeysFile       = "edge-keys-file"
	ControlPlaneURL    = "control-plane-url"
	EdgeToken          = "edge-token"
	EdgeSnapshotPath   = "edge-snapshot-path"
	PolicyBundleURL    = "policy-bundle-url"
	TrustedProxies     = "trusted-proxies"
	EdgeTokens         = "edge-tokens"
	EdgeSigningSecrets = "edge-signing-secrets"
	EdgeSigWindow      = "edge-signature-window"
	CookieSecure       = "cookie-secure"
	IngestAddr         = "ingest-addr"
	IngestGroup        = "ingest-group"
	IngestBatchSize    = "ingest-batch-size"
	IngestFlush        = "ingest-flush-interval"
	RetentionDays      = "retention-days"
	SpoolDir           = "spool-dir"
	SpoolMaxBytes      = "spool-max-bytes"
	RequestLogTopic    = "request-log-topic"
	OrderEventTopic    = "order-event-topic"
	SandboxAddr        = "sandbox-addr"
	SandboxDelay       = "sandbox-completion-delay"
	LiveVendorAddr     = "live-vendor-addr"
	LiveVendorDelay    = "live-vendor-completion-delay"
	WebhookDelivery    = "webhook-delivery"
	WebhookConcurrency = "webhook-concurrency"
	MilestoneDetector  = "milestone-detector"
	MilestoneGroup     = "milestone-group"
	WebhookAllowPriv   = "webhook-allow-private-networks"
	WebhookAllowHTTP   = "webhook-allow-http-for-test"
	SignupLimit        = "signup-limit"
	LoginLimit         = "login-limit"
	LoginFreeFailures  = "login-free-failures"
	ConsoleEdgeURL     = "console-edge-url"
	KeyLimit           = "key-limit"
	WebhookEndpointLim = "webhook-endpoint-limit"
	ConsoleOrderLimit  = "console-order-limit"
	WebhookTestLimit   = "webhook-test-limit"
	EdgeDeadKeyGrace   = "edge-dead-key-grace"
)

// Settings returns every setting the binary knows, in help order.
func Settings() []Setting {
	return []Setting{
		{Flag: LogLevel, Env: []string{"STELLER_LOG_LEVEL"}, Default: "info",
			Usage: "minimum log level: debug, info, warn or error",
			parse: func(c *Config, v string) error { return c.LogLevel.UnmarshalText([]byte(v)) }},
		{Flag: LogFormat, Env: []string{"STELLER_LOG_FORMAT"}, Default: "text",
			Usage: "log format: text (for people) or json (for log shippers)",
			parse: func(c *Config, v string) error {
				c.LogFormat = v
				return oneOf(v, "text", "json")
			}},
		{Flag: DataDir, Env: []string{"STELLER_DATA_DIR"}, Default: ".local/dev",
			Usage: "directory for local server data (PostgreSQL, ClickHouse, Kafka); reused across runs",
			parse: func(c *Config, v string) error { c.DataDir = v; return nonEmpty(v) }},
		{Flag: PostgresURL, Env: []string{"STELLER_POSTGRES_URL", "DATABASE_URL"},
			Usage: "PostgreSQL URL, e.g. postgres://user:pass@host:5432/steller (steller dev fills it in for its own server)",
			parse: func(c *Config, v string) error { c.PostgresURL = v; return postgresURL(v) }},
		{Flag: ClickHouseAddr, Env: []string{"STELLER_CLICKHOUSE_ADDR"},
			Usage: "ClickHouse native-protocol address host:port (steller dev fills it in for its own server)",
			parse: func(c *Config, v string) error { c.ClickHouseAddr = v; return hostPort(v) }},
		{Flag: ClickHouseDatabase, Env: []string{"STELLER_CLICKHOUSE_DATABASE"}, Default: "steller",
			Usage: "ClickHouse database for Steller's tables",
			parse: func(c *Config, v string) error { c.ClickHouseDatabase = v; return identifier(v) }},
		{Flag: ClickHouseUser, Env: []string{"STELLER_CLICKHOUSE_USER"}, Default: "default",
			Usage: "ClickHouse user",
			parse: func(c *Config, v string) error { c.ClickHouseUser = v; return nonEmpty(v) }},
		{Flag: ClickHousePassword, Env: []string{"STELLER_CLICKHOUSE_PASSWORD"},
			Usage: "ClickHouse password (empty for the local server)",
			parse: func(c *Config, v string) error { c.ClickHousePassword = v; return nil }},
		{Flag: KafkaBrokers, Env: []string{"STELLER_KAFKA_BROKERS", "KAFKA_BROKERS"},
			Usage: "comma-separated Kafka bootstrap brokers host:port; empty in steller dev runs an embedded broker",
			parse: func(c *Config, v string) error {
				brokers, err := brokerList(v)
				c.KafkaBrokers = brokers
				return err
			}},
		{Flag: ControlPlaneAddr, Env: []string{"STELLER_CONTROL_PLANE_ADDR"}, Default: "127.0.0.1:8080",
			Usage: "listen address of the control plane (API, docs, portal, /healthz, /readyz, /metrics)",
			parse: func(c *Config, v string) error { c.ControlPlaneAddr = v; return hostPort(v) }},
		{Flag: ControlPlaneOps, Env: []string{"STELLER_CONTROL_PLANE_OPS_ADDR"}, Default: "127.0.0.1:8180",
			Usage: "listen address of the control plane's /readyz (which names failing dependencies) and /metrics, kept off the public API address; /healthz is on both",
			parse: func(c *Config, v string) error { c.ControlPlaneOpsAddr = v; return hostPort(v) }},
		{Flag: ShutdownTimeout, Env: []string{"STELLER_SHUTDOWN_TIMEOUT"}, Default: "15s",
			Usage: "how long graceful shutdown may take after SIGINT or SIGTERM",
			parse: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err == nil && d <= 0 {
					err = errors.New("must be positive")
				}
				c.ShutdownTimeout = d
				return err
			}},
		{Flag: StackProfile, Env: []string{"STELLER_STACK_PROFILE"}, Default: "test",
			Usage: "port set of the local servers: dev or test (they can run side by side)",
			parse: func(c *Config, v string) error { c.StackProfile = v; return oneOf(v, "dev", "test") }},
		{Flag: StackKafka, Env: []string{"STELLER_STACK_KAFKA"}, Default: "apache",
			Usage: "Kafka broker of the local stack: apache (real Apache Kafka, needs the jars) or none",
			parse: func(c *Config, v string) error { c.StackKafka = v; return oneOf(v, "apache", "none") }},
		{Flag: KafkaLibDir, Env: []string{"STELLER_KAFKA_LIB_DIR"}, Default: ".cache/kafka/libs",
			Usage: "directory of the Apache Kafka jars that scripts/install.sh resolves",
			parse: func(c *Config, v string) error { c.KafkaLibDir = v; return nonEmpty(v) }},
		{Flag: StackDir, Env: []string{"STELLER_STACK_DIR"},
			Usage: "root directory of the stack's servers (default .local/<profile>)",
			parse: func(c *Config, v string) error { c.StackDir = v; return nil }},
		{Flag: PortOffset, Env: []string{"STELLER_PORT_OFFSET"}, Default: "0",
			Usage: "added to every port of the local servers, to run another stack beside the usual one",
			parse: func(c *Config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 || n > localstack.MaxPortOffset {
					return fmt.Errorf("must be a whole number from 0 to %d", localstack.MaxPortOffset)
				}
				c.PortOffset = n
				return nil
			}},
		{Flag: GatewayAddr, Env: []string{"STELLER_GATEWAY_ADDR"}, Default: "127.0.0.1:8000",
			Usage: "listen address of the built-in gateway (partner traffic)",
			parse: func(c *Config, v string) error { c.GatewayAddr = v; return hostPort(v) }},
		{Flag: GatewayOpsAddr, Env: []string{"STELLER_GATEWAY_OPS_ADDR"}, Default: "127.0.0.1:8100",
			Usage: "listen address of the gateway's /healthz, /readyz and /metrics (kept off the partner port)",
			parse: func(c *Config, v string) error { c.GatewayOpsAddr = v; return hostPort(v) }},
		{Flag: SandboxUpstreamURL, Env: []string{"STELLER_SANDBOX_UPSTREAM_URL"},
			Usage: "upstream for test (sk_test_) keys: the sandbox gift-card vendor, http(s)://host:port",
			parse: func(c *Config, v string) error { c.SandboxUpstreamURL = v; return httpURL(v) }},
		{Flag: LiveUpstreamURL, Env: []string{"STELLER_LIVE_UPSTREAM_URL"},
			Usage: "upstream for live (sk_live_) keys: the production gift-card API, http(s)://host:port",
			parse: func(c *Config, v string) error { c.LiveUpstreamURL = v; return httpURL(v) }},
		{Flag: EdgeKeysFile, Env: []string{"STELLER_EDGE_KEYS_FILE"},
			Usage: "static API keys file (JSON, reloaded on change) for local runs; instead of --control-plane-url",
			parse: func(c *Config, v string) error { c.EdgeKeysFile = v; return nil }},
		{Flag: ControlPlaneURL, Env: []string{"STELLER_CONTROL_PLANE_URL"},
			Usage: "control plane the edge syncs API keys from (snapshot + change feed); instead of --edge-keys-file",
			parse: func(c *Config, v string) error { c.ControlPlaneURL = v; return httpURL(v) }},
		{Flag: EdgeToken, Env: []string{"STELLER_EDGE_TOKEN"},
			Usage: "bearer token the edge presents to the control plane",
			parse: func(c *Config, v string) error { c.EdgeToken = v; return nil }},
		{Flag: EdgeSnapshotPath, Env: []string{"STELLER_EDGE_SNAPSHOT_PATH"},
			Usage: "file keeping the last good key snapshot, so the edge serves when the control plane is down at start",
			parse: func(c *Config, v string) error { c.EdgeSnapshotPath = v; return nil }},
		{Flag: PolicyBundleURL, Env: []string{"STELLER_POLICY_BUNDLE_URL"},
			Usage: "OPA bundle URL polled with ETags; empty uses the policy embedded in the binary",
			parse: func(c *Config, v string) error { c.PolicyBundleURL = v; return httpURL(v) }},
		{Flag: TrustedProxies, Env: []string{"STELLER_TRUSTED_PROXIES"},
			Usage: "comma-separated addresses/CIDRs of proxies in front of the gateway whose X-Forwarded-For is believed; empty trusts none",
			parse: func(c *Config, v string) error {
				list, err := prefixList(v)
				c.TrustedProxies = list
				return err
			}},
		{Flag: EdgeTokens, Env: []string{"STELLER_EDGE_TOKENS"},
			Usage: "comma-separated tokens the control plane accepts from edges (edge sync, policy bundles); list two while rotating",
			parse: func(c *Config, v string) error {
				for _, t := range strings.Split(v, ",") {
					if t = strings.TrimSpace(t); t != "" {
						if len(t) < 16 {
							return errors.New("each token must be at least 16 characters")
						}
						c.EdgeTokens = append(c.EdgeTokens, t)
					}
				}
				return nil
			}},
		{Flag: EdgeSigningSecrets, Env: []string{"STELLER_EDGE_SIGNING_SECRETS"},
			Usage: "comma-separated secrets (32+ characters each) of the edge's signature over the identity it forwards: the edge signs with the first, upstreams accept either; list two while rotating",
			parse: func(c *Config, v string) error {
				var list []string
				for s := range strings.SplitSeq(v, ",") {
					if s = strings.TrimSpace(s); s != "" {
						list = append(list, s)
					}
				}
				c.EdgeSigningSecrets = list
				if len(list) == 0 {
					return nil // required where used (Spec.Required)
				}
				_, err := edgesign.ParseSecrets(list)
				return err
			}},
		{Flag: EdgeSigWindow, Env: []string{"STELLER_EDGE_SIGNATURE_WINDOW"}, Default: "60s",
			Usage: "how far from an upstream's clock an edge signature's time may be, either way; older ones are refused as replays",
			parse: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err == nil && (d < time.Second || d > 10*time.Minute) {
					err = errors.New("must be between 1s and 10m")
				}
				c.EdgeSignatureWindow = d
				return err
			}},
		{Flag: CookieSecure, Env: []string{"STELLER_COOKIE_SECURE"}, Default: "true",
			Usage: "mark the session cookie Secure (sent over HTTPS only); false only for plain-http local runs (steller dev turns it off)",
			parse: func(c *Config, v string) error {
				b, err := strconv.ParseBool(v)
				c.CookieSecure = b
				if err != nil {
					return errors.New("must be true or false")
				}
				return nil
			}},
		{Flag: IngestAddr, Env: []string{"STELLER_INGEST_ADDR"}, Default: "127.0.0.1:8200",
			Usage: "listen address of the ingest's /healthz, /readyz and /metrics",
			parse: func(c *Config, v string) error { c.IngestAddr = v; return hostPort(v) }},
		{Flag: IngestGroup, Env: []string{"STELLER_INGEST_GROUP"}, Default: "steller-ingest",
			Usage: "Kafka consumer group of the ingest: every ingest process shares it and Kafka spreads the partitions",
			parse: func(c *Config, v string) error { c.IngestGroup = v; return nonEmpty(v) }},
		{Flag: IngestBatchSize, Env: []string{"STELLER_INGEST_BATCH_SIZE"}, Default: "50000",
			Usage: "most request-log rows per ClickHouse insert",
			parse: func(c *Config, v string) error { return positiveInt(v, 1_000_000, &c.IngestBatchSize) }},
		{Flag: IngestFlush, Env: []string{"STELLER_INGEST_FLUSH_INTERVAL"}, Default: "1s",
			Usage: "longest an event waits for its batch before it is inserted (bounds freshness)",
			parse: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err == nil && d <= 0 {
					err = errors.New("must be positive")
				}
				c.IngestFlushInterval = d
				return err
			}},
		{Flag: RetentionDays, Env: []string{"STELLER_RETENTION_DAYS"}, Default: "90",
			Usage: "days of request logs ClickHouse keeps; older monthly partitions are dropped hourly",
			parse: func(c *Config, v string) error { return positiveInt(v, 36500, &c.RetentionDays) }},
		{Flag: SpoolDir, Env: []string{"STELLER_SPOOL_DIR"}, Default: ".local/spool/gateway",
			Usage: "directory where the gateway spools request-log events while Kafka is unreachable (one process per directory)",
			parse: func(c *Config, v string) error { c.SpoolDir = v; return nonEmpty(v) }},
		{Flag: SpoolMaxBytes, Env: []string{"STELLER_SPOOL_MAX_BYTES"}, Default: "1073741824",
			Usage: "most bytes the spool may hold; beyond it new events are dropped and counted",
			parse: func(c *Config, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 1<<20 {
					return errors.New("must be a number of bytes, at least 1048576")
				}
				c.SpoolMaxBytes = n
				return nil
			}},
		{Flag: RequestLogTopic, Env: []string{"STELLER_REQUEST_LOG_TOPIC"}, Default: "steller.request-logs.v1",
			Usage: "Kafka topic of request-log events (the edge writes it, the ingest reads it; its dead letters go to <topic>.dlq)",
			parse: func(c *Config, v string) error { c.RequestLogTopic = v; return nonEmpty(v) }},
		{Flag: OrderEventTopic, Env: []string{"STELLER_ORDER_EVENT_TOPIC"}, Default: "steller.order-events.v1",
			Usage: "Kafka topic of order events (the sandbox vendor and the live order system write it, the webhook dispatcher reads it)",
			parse: func(c *Config, v string) error { c.OrderEventTopic = v; return nonEmpty(v) }},
		{Flag: SandboxAddr, Env: []string{"STELLER_SANDBOX_ADDR"}, Default: "127.0.0.1:8300",
			Usage: "listen address of the sandbox gift-card vendor (the upstream of test keys; /healthz, /readyz, /metrics too)",
			parse: func(c *Config, v string) error { c.SandboxAddr = v; return hostPort(v) }},
		{Flag: SandboxDelay, Env: []string{"STELLER_SANDBOX_COMPLETION_DELAY"}, Default: "2s",
			Usage: "how long a sandbox order stays pending before it completes or fails (orders with the vendor_timeout magic amount wait 10s)",
			parse: func(c *Config, v string) error { return completionDelay(v, &c.SandboxCompletionDelay) }},
		{Flag: LiveVendorAddr, Env: []string{"STELLER_LIVE_VENDOR_ADDR"}, Default: "127.0.0.1:8400",
			Usage: "listen address of the live vendor stand-in (the upstream of live keys in local runs, in place of the production gift-card API; /healthz, /readyz, /metrics too)",
			parse: func(c *Config, v string) error { c.LiveVendorAddr = v; return hostPort(v) }},
		{Flag: LiveVendorDelay, Env: []string{"STELLER_LIVE_VENDOR_COMPLETION_DELAY"}, Default: "2s",
			Usage: "how long an order of the live vendor stand-in stays pending before it completes (live orders never fail on magic values)",
			parse: func(c *Config, v string) error { return completionDelay(v, &c.LiveVendorCompletionDelay) }},
		{Flag: WebhookDelivery, Env: []string{"STELLER_WEBHOOK_DELIVERY"}, Default: "true",
			Usage: "run the webhook dispatcher (order events from Kafka) and delivery workers in this control-plane process",
			parse: func(c *Config, v string) error { return boolean(v, &c.WebhookDelivery) }},
		{Flag: WebhookConcurrency, Env: []string{"STELLER_WEBHOOK_CONCURRENCY"}, Default: "100",
			Usage: "most webhook deliveries one process runs at once",
			parse: func(c *Config, v string) error { return positiveInt(v, 10_000, &c.WebhookConcurrency) }},
		{Flag: MilestoneDetector, Env: []string{"STELLER_MILESTONE_DETECTOR"}, Default: "true",
			Usage: "run the milestone detector (request logs and order events from Kafka to milestones) in this control-plane process",
			parse: func(c *Config, v string) error { return boolean(v, &c.MilestoneDetector) }},
		{Flag: MilestoneGroup, Env: []string{"STELLER_MILESTONE_GROUP"}, Default: "steller-milestones",
			Usage: "consumer-group prefix of the milestone detector: request logs use <group>-requests, order events <group>-orders (apart from the ingest's)",
			parse: func(c *Config, v string) error { c.MilestoneGroup = v; return nonEmpty(v) }},
		{Flag: WebhookAllowPriv, Env: []string{"STELLER_WEBHOOK_ALLOW_PRIVATE_NETWORKS"}, Default: "false",
			Usage: "let webhook deliveries reach loopback and private addresses (local development only; metadata and link-local stay refused)",
			parse: func(c *Config, v string) error { return boolean(v, &c.WebhookAllowPrivate) }},
		{Flag: WebhookAllowHTTP, Env: []string{"STELLER_WEBHOOK_ALLOW_HTTP_FOR_TEST"}, Default: "false",
			Usage: "let test-environment webhook endpoints use http:// URLs (live endpoints always need https)",
			parse: func(c *Config, v string) error { return boolean(v, &c.WebhookAllowHTTP) }},
		{Flag: SignupLimit, Env: []string{"STELLER_SIGNUP_LIMIT"}, Default: "10/1h",
			Usage: "signups and invitation acceptances allowed per client address (IPv6: per /64), as N/duration; 0 turns it off (steller dev: 1000/1h)",
			parse: func(c *Config, v string) error { return rate(v, &c.SignupLimit) }},
		{Flag: LoginLimit, Env: []string{"STELLER_LOGIN_LIMIT"}, Default: "20/1m",
			Usage: "sign-in attempts allowed per client address (IPv6: per /64), as N/duration; 0 turns it off (steller dev: 1000/1m)",
			parse: func(c *Config, v string) error { return rate(v, &c.LoginLimit) }},
		{Flag: LoginFreeFailures, Env: []string{"STELLER_LOGIN_FREE_FAILURES"}, Default: "5",
			Usage: "failed sign-ins in a row one e-mail address may make before each further attempt waits a backoff doubling from 1s to 15m; 0 turns it off",
			parse: func(c *Config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 || n > 1000 {
					return errors.New("must be a whole number from 0 to 1000")
				}
				c.LoginFreeFailures = n
				return nil
			}},
		{Flag: ConsoleEdgeURL, Env: []string{"STELLER_CONSOLE_EDGE_URL"},
			Usage: "edge (gateway or Kong) URL that the portal console's test orders go through; empty disables the console",
			parse: func(c *Config, v string) error { c.ConsoleEdgeURL = v; return httpURL(v) }},
		{Flag: KeyLimit, Env: []string{"STELLER_KEY_LIMIT"}, Default: "100",
			Usage: "most active API keys per workspace, and apart the most rolled keys in their grace period (a 409 key_limit_reached beyond); 0 turns it off (steller dev: 10000)",
			parse: func(c *Config, v string) error { return count(v, 1_000_000, &c.KeyLimit) }},
		{Flag: WebhookEndpointLim, Env: []string{"STELLER_WEBHOOK_ENDPOINT_LIMIT"}, Default: "20",
			Usage: "most webhook endpoints per workspace (a 409 webhook_endpoint_limit_reached beyond); 0 turns it off (steller dev: 1000)",
			parse: func(c *Config, v string) error { return count(v, 100_000, &c.WebhookEndpointLimit) }},
		{Flag: ConsoleOrderLimit, Env: []string{"STELLER_CONSOLE_ORDER_LIMIT"}, Default: "10/1m",
			Usage: "console test orders allowed per partner, as N/duration (a 429 test_order_rate_limited beyond); 0 turns it off (steller dev: 1000/1m)",
			parse: func(c *Config, v string) error { return rate(v, &c.ConsoleOrderLimit) }},
		{Flag: WebhookTestLimit, Env: []string{"STELLER_WEBHOOK_TEST_LIMIT"}, Default: "20/1m",
			Usage: "webhook test events allowed per partner, as N/duration (a 429 webhook_test_rate_limited beyond); 0 turns it off (steller dev: 1000/1m)",
			parse: func(c *Config, v string) error { return rate(v, &c.WebhookTestLimit) }},
		{Flag: EdgeDeadKeyGrace, Env: []string{"STELLER_EDGE_DEAD_KEY_GRACE"}, Default: "24h",
			Usage: "how long revoked and expired keys stay on edges (denied as key_revoked or key_expired) before edges forget them (then denied as invalid_key), from 1m to 720h",
			parse: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err == nil && (d < time.Minute || d > 720*time.Hour) {
					err = errors.New("must be between 1m and 720h")
				}
				c.EdgeDeadKeyGrace = d
				return err
			}},
	}
}

// Lookup returns the settings with the given flag names, in the order given. It panics on
// an unknown name: that is a programming error caught by every test that builds the CLI.
func Lookup(names ...string) []Setting {
	all := Settings()
	out := make([]Setting, 0, len(names))
	for _, n := range names {
		found := false
		for _, s := range all {
			if s.Flag == n {
				out = append(out, s)
				found = true
				break
			}
		}
		if !found {
			panic("config: unknown setting " + n)
		}
	}
	return out
}

// Load parses the raw values of the given settings into a Config. value returns the raw
// value of a setting (flag, else environment, else default); required names the settings
// that must not be empty. Every invalid or missing value is reported, joined in one error.
func Load(settings []Setting, required []string, value func(Setting) string) (Config, error) {
	var c Config
	var errs []error
	for _, s := range settings {
		raw := strings.TrimSpace(value(s))
		if raw == "" && slices.Contains(required, s.Flag) {
			errs = append(errs, fmt.Errorf("--%s (%s) is required: %s", s.Flag, s.Env[0], s.Usage))
			continue
		}
		if err := s.parse(&c, raw); err != nil {
			errs = append(errs, fmt.Errorf("--%s (%s=%q): %w", s.Flag, s.Env[0], raw, err))
		}
	}
	return c, errors.Join(errs...)
}

func oneOf(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
}

// Rate is a number of requests per window.
type Rate struct {
	// Requests is how many are allowed in each window; 0 means no limit.
	Requests int
	// Per is the window.
	Per time.Duration
}

// rate parses "N/duration" (10/1h, 20/1m) or "0" into dst.
func rate(v string, dst *Rate) error {
	if v == "0" {
		*dst = Rate{}
		return nil
	}
	n, per, ok := strings.Cut(v, "/")
	requests, err := strconv.Atoi(n)
	window, derr := time.ParseDuration(per)
	if !ok || err != nil || derr != nil || requests < 1 || requests > 1_000_000 || window < time.Second || window > 24*time.Hour {
		return errors.New("must be N/duration, such as 10/1h (N from 1 to 1000000, a window from 1s to 24h), or 0")
	}
	*dst = Rate{Requests: requests, Per: window}
	return nil
}

// completionDelay parses a vendor's completion delay, positive and at most 1h, into dst.
func completionDelay(v string, dst *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err == nil && (d <= 0 || d > time.Hour) {
		err = errors.New("must be positive and at most 1h")
	}
	*dst = d
	return err
}

// boolean parses true or false into dst.
func boolean(v string, dst *bool) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("must be true or false")
	}
	*dst = b
	return nil
}

func nonEmpty(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// hostPort accepts an empty value (meaning "not configured") or a host:port pair.
func hostPort(v string) error {
	if v == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return errors.New("must be host:port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return errors.New("port must be a number from 0 to 65535")
	}
	return nil
}

func postgresURL(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil {
		return errors.New("must be a URL")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return errors.New("must start with postgres:// or postgresql://")
	}
	if u.Host == "" {
		return errors.New("must name a host")
	}
	return nil
}

// count parses a whole number from 0 to max into dst (a limit; 0 turns it off).
func count(v string, max int, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > max {
		return fmt.Errorf("must be a whole number from 0 to %d (0 turns the limit off)", max)
	}
	*dst = n
	return nil
}

// positiveInt parses a whole number from 1 to max into dst.
func positiveInt(v string, max int, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return fmt.Errorf("must be a whole number from 1 to %d", max)
	}
	*dst = n
	return nil
}

// httpURL accepts an empty value or an absolute http(s) URL with a host.
func httpURL(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http:// or https:// URL")
	}
	return nil
}

// prefixList parses comma-separated IP addresses and CIDR prefixes.
func prefixList(v string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(v, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		var err error
		if strings.Contains(e, "/") {
			_, err = netip.ParsePrefix(e)
		} else {
			_, err = netip.ParseAddr(e)
		}
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR", e)
		}
		out = append(out, e)
	}
	return out, nil
}

func brokerList(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	var brokers []string
	for _, b := range strings.Split(v, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if err := hostPort(b); err != nil {
			return nil, fmt.Errorf("broker %q: %w", b, err)
		}
		brokers = append(brokers, b)
	}
	return brokers, nil
}

func identifier(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	for i, r := range v {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return errors.New("must be a plain identifier (letters, digits, underscore)")
		}
	}
	return nil
}
