package localstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ClickHouse is a ClickHouse server from Debian's packages (18.16 here) with a minimal
// config of its own in a private directory, speaking the native protocol on 127.0.0.1.
type ClickHouse struct {
	// Dir holds the config, data, and logs.
	Dir string
	// TCPPort is the native-protocol port.
	TCPPort int
	// HTTPPort is the HTTP port.
	HTTPPort int
	// InterserverPort is the replication port; unused, but bound to loopback.
	InterserverPort int
}

// NewClickHouse returns the ClickHouse server of a stack rooted at dir.
func NewClickHouse(dir string, p Ports) *ClickHouse {
	return &ClickHouse{Dir: filepath.Join(dir, "clickhouse"), TCPPort: p.ClickHouseTCP, HTTPPort: p.ClickHouseHTTP, InterserverPort: p.ClickHouseInterserver}
}

const clickhouseBinary = "/usr/sbin/clickhouse-server"

// Name implements Server.
func (c *ClickHouse) Name() string { return "clickhouse" }

// StopSignal implements Server.
func (c *ClickHouse) StopSignal() StopSignal { return SigTerm }

// Addr is the native-protocol address.
func (c *ClickHouse) Addr() string { return "127.0.0.1:" + strconv.Itoa(c.TCPPort) }

// Prepare writes config.xml and users.xml (every run, so a changed port takes effect) and
// creates the data directories.
func (c *ClickHouse) Prepare(context.Context) error {
	if _, err := os.Stat(clickhouseBinary); err != nil {
		return fmt.Errorf("clickhouse %w", ErrNotInstalled)
	}
	for _, d := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(c.Dir, d), 0o755); err != nil {
			return err
		}
	}
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return err
	}
	config := fmt.Sprintf(clickhouseConfig, c.TCPPort, c.HTTPPort, c.InterserverPort, abs)
	if err := os.WriteFile(filepath.Join(c.Dir, "config.xml"), []byte(config), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.Dir, "users.xml"), []byte(clickhouseUsers), 0o644)
}

// Command implements Server.
func (c *ClickHouse) Command() *exec.Cmd {
	cmd := exec.Command(clickhouseBinary, "--config-file="+filepath.Join(c.Dir, "config.xml"))
	cmd.Dir = c.Dir
	return cmd
}

// Ready implements Server with a native-protocol ping.
func (c *ClickHouse) Ready(ctx context.Context) error {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{c.Addr()}, DialTimeout: time.Second, ReadTimeout: 2 * time.Second,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Ping(ctx)
}

// clickhouseConfig takes the TCP, HTTP and interserver ports and the absolute directory.
const clickhouseConfig = `<?xml version="1.0"?>
<!-- Written by steller (internal/localstack); rewritten on every start. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>%[4]s/log/clickhouse-server.log</log>
        <errorlog>%[4]s/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>%[1]d</tcp_port>
    <http_port>%[2]d</http_port>
    <interserver_http_port>%[3]d</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <max_connections>512</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>268435456</mark_cache_size>
    <path>%[4]s/data/</path>
    <tmp_path>%[4]s/tmp/</tmp_path>
    <user_files_path>%[4]s/user_files/</user_files_path>
    <format_schema_path>%[4]s/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
`

const clickhouseUsers = `<?xml version="1.0"?>
<!-- Written by steller (internal/localstack): the default user, no password, loopback only. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`
