package kongplugin

import (
	"log/slog"
	"path/filepath"

	"github.com/steller/platform/analytics/emitter"
	"github.com/steller/platform/analytics/requestlog"
)

// DefaultSpoolDir is where the plugin spools request-log events when kong.yml names no
// spool_dir; kong/Dockerfile creates it, writable by Kong's user.
const DefaultSpoolDir = "/var/lib/steller-edge/spool"

// kafkaEmitter is the binary's emitter factory: the Kafka emitter of analytics/emitter
// for a configuration with kafka_brokers, spooling under spool_dir/<config key> so two
// configurations never share a spool; without brokers, events are discarded and the
// configuration says so once in the log.
func kafkaEmitter(log *slog.Logger) func(*Config) (requestlog.Emitter, error) {
	return func(c *Config) (requestlog.Emitter, error) {
		c.init()
		if len(c.KafkaBrokers) == 0 {
			log.Warn("steller-edge: no kafka_brokers configured; request-log events are discarded", "config", c.key[:12])
			return requestlog.Nop{}, nil
		}
		dir := c.SpoolDir
		if dir == "" {
			dir = DefaultSpoolDir
		}
		return emitter.New(emitter.Config{
			Brokers:  c.KafkaBrokers,
			Topic:    c.KafkaTopic,
			Logger:   log.With("config", c.key[:12]),
			SpoolDir: filepath.Join(dir, c.key[:16]),
		})
	}
}
