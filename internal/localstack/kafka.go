package localstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/segmentio/kafka-go"
)

// Kafka is a single-node Apache Kafka broker in KRaft mode (broker and controller in one
// process), run from the Maven Central jars that scripts/install.sh resolves, with the
// machine's Java.
type Kafka struct {
	// Dir holds server.properties, the log4j2 config and the log dirs.
	Dir string
	// LibDir holds the Kafka jars and their dependencies.
	LibDir string
	// Port is the client listener on 127.0.0.1.
	Port int
	// ControllerPort is the KRaft controller listener on 127.0.0.1.
	ControllerPort int
	// HeapMB is the JVM heap; a local broker needs little.
	HeapMB int
}

// NewKafka returns the Kafka broker of a stack rooted at dir.
func NewKafka(dir, libDir string, p Ports) *Kafka {
	return &Kafka{Dir: filepath.Join(dir, "kafka"), LibDir: libDir, Port: p.Kafka, ControllerPort: p.KafkaController, HeapMB: 512}
}

// Name implements Server.
func (k *Kafka) Name() string { return "kafka" }

// StopSignal implements Server.
func (k *Kafka) StopSignal() StopSignal { return SigTerm }

// Addr is the bootstrap broker address.
func (k *Kafka) Addr() string { return "127.0.0.1:" + strconv.Itoa(k.Port) }

func (k *Kafka) java(args ...string) *exec.Cmd {
	base := []string{
		"-Xms" + strconv.Itoa(k.HeapMB/2) + "m", "-Xmx" + strconv.Itoa(k.HeapMB) + "m",
		"-XX:+UseG1GC", "-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile=" + filepath.Join(k.Dir, "log4j2.properties"),
		"-Dkafka.logs.dir=" + filepath.Join(k.Dir, "logs"),
		"-cp", filepath.Join(k.LibDir, "*"),
	}
	return exec.Command("java", append(base, args...)...)
}

// Prepare writes the broker config and formats the KRaft storage once (a directory with
// meta.properties is reused).
func (k *Kafka) Prepare(ctx context.Context) error {
	jars, _ := filepath.Glob(filepath.Join(k.LibDir, "kafka_2.13-*.jar"))
	if len(jars) == 0 {
		return fmt.Errorf("kafka jars in %s %w", k.LibDir, ErrNotInstalled)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return fmt.Errorf("java %w", ErrNotInstalled)
	}
	abs, err := filepath.Abs(k.Dir)
	if err != nil {
		return err
	}
	for _, d := range []string{"data", "logs"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o755); err != nil {
			return err
		}
	}
	props := fmt.Sprintf(kafkaProperties, k.Port, k.ControllerPort, filepath.Join(abs, "data"))
	if err := os.WriteFile(filepath.Join(abs, "server.properties"), []byte(props), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(abs, "log4j2.properties"), []byte(kafkaLog4j), 0o644); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(abs, "data", "meta.properties")); err == nil {
		return nil
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	cmd := k.java("kafka.tools.StorageTool", "format", "--ignore-formatted",
		"--cluster-id", base64.RawURLEncoding.EncodeToString(id),
		"--config", filepath.Join(abs, "server.properties"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kafka storage format: %w\n%s", err, out)
	}
	return nil
}

// Command implements Server.
func (k *Kafka) Command() *exec.Cmd {
	return k.java("kafka.Kafka", filepath.Join(k.Dir, "server.properties"))
}

// Ready implements Server: the broker answers a metadata request and has a controller.
func (k *Kafka) Ready(ctx context.Context) error {
	d := &kafka.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", k.Addr())
	if err != nil {
		return err
	}
	defer conn.Close()
	c, err := conn.Controller()
	if err != nil {
		return err
	}
	if c.Host == "" {
		return fmt.Errorf("kafka: no controller yet")
	}
	return nil
}

// kafkaProperties takes the client port, the controller port and the data directory.
const kafkaProperties = `# Written by steller (internal/localstack); rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=%[3]s
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.hours=24
log.segment.bytes=67108864
`

const kafkaLog4j = `# Written by steller (internal/localstack): warnings and errors to the console,
# which the stack sends to kafka.log.
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = warn
logger.server.name = kafka.server.KafkaServer
logger.server.level = info
`
