package config_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/config"
)

func load(t *testing.T, names []string, required []string, raw map[string]string) (config.Config, error) {
	t.Helper()
	return config.Load(config.Lookup(names...), required, func(s config.Setting) string {
		if v, ok := raw[s.Flag]; ok {
			return v
		}
		return s.Default
	})
}

func TestLoadParsesEverySetting(t *testing.T) {
	t.Parallel()
	all := make([]string, 0)
	for _, s := range config.Settings() {
		all = append(all, s.Flag)
	}
	c, err := load(t, all, nil, map[string]string{
		config.LogLevel:         "debug",
		config.PostgresURL:      "postgres://u:p@db:5432/steller",
		config.ClickHouseAddr:   "ch:9000",
		config.KafkaBrokers:     "k1:9092, k2:9092,",
		config.ShutdownTimeout:  "3s",
		config.ControlPlaneAddr: ":9090",
	})
	require.NoError(t, err)
	assert.Equal(t, slog.LevelDebug, c.LogLevel)
	assert.Equal(t, "text", c.LogFormat)
	assert.Equal(t, "postgres://u:p@db:5432/steller", c.PostgresURL)
	assert.Equal(t, "ch:9000", c.ClickHouseAddr)
	assert.Equal(t, "steller", c.ClickHouseDatabase)
	assert.Equal(t, []string{"k1:9092", "k2:9092"}, c.KafkaBrokers)
	assert.Equal(t, 3*time.Second, c.ShutdownTimeout)
	assert.Equal(t, ":9090", c.ControlPlaneAddr)
	assert.Equal(t, ".local/dev", c.DataDir)
	assert.Equal(t, config.Rate{Requests: 10, Per: time.Hour}, c.SignupLimit)
	assert.Equal(t, config.Rate{Requests: 20, Per: time.Minute}, c.LoginLimit)
	assert.Equal(t, 5, c.LoginFreeFailures)
	assert.True(t, c.CookieSecure, "the session cookie is Secure unless turned off")
	assert.False(t, c.WebhookAllowHTTP)
	assert.Equal(t, time.Minute, c.EdgeSignatureWindow)
	assert.Equal(t, "127.0.0.1:8400", c.LiveVendorAddr)
	assert.Equal(t, 2*time.Second, c.LiveVendorCompletionDelay)
	assert.Equal(t, 2*time.Second, c.SandboxCompletionDelay)
	assert.True(t, c.MilestoneDetector, "the control plane runs the milestone detector unless turned off")
	assert.Equal(t, "steller-milestones", c.MilestoneGroup)

	c, err = load(t, []string{config.EdgeSigningSecrets}, nil,
		map[string]string{config.EdgeSigningSecrets: "esig_current-secret-of-32-characters-or-more, esig_previous-secret-of-32-characters-or-more"})
	require.NoError(t, err)
	assert.Equal(t, []string{"esig_current-secret-of-32-characters-or-more", "esig_previous-secret-of-32-characters-or-more"}, c.EdgeSigningSecrets)
	for _, bad := range []string{"too-short", "a-secret-of-32-characters-or-more,b-secret-of-32-characters-or-more,c-secret-of-32-characters-or-more"} {
		_, err = load(t, []string{config.EdgeSigningSecrets}, nil, map[string]string{config.EdgeSigningSecrets: bad})
		assert.ErrorContains(t, err, "--edge-signing-secrets", bad)
	}

	c, err = load(t, []string{config.SignupLimit, config.LoginLimit}, nil,
		map[string]string{config.SignupLimit: "0", config.LoginLimit: "3/30s"})
	require.NoError(t, err)
	assert.Equal(t, config.Rate{}, c.SignupLimit, "0 is off")
	assert.Equal(t, config.Rate{Requests: 3, Per: 30 * time.Second}, c.LoginLimit)
}

func TestLoadReportsEveryProblemTogether(t *testing.T) {
	t.Parallel()
	_, err := load(t,
		[]string{config.LogLevel, config.LogFormat, config.PostgresURL, config.KafkaBrokers, config.ShutdownTimeout, config.ClickHouseDatabase, config.ClickHouseAddr},
		[]string{config.ClickHouseAddr},
		map[string]string{
			config.LogLevel:           "loud",
			config.LogFormat:          "xml",
			config.PostgresURL:        "mysql://x",
			config.KafkaBrokers:       "broker-without-port",
			config.ShutdownTimeout:    "-1s",
			config.ClickHouseDatabase: "drop table; --",
		})
	require.Error(t, err)
	for _, want := range []string{
		"--log-level", "--log-format", "must be one of text, json", "--postgres-url", "postgres://",
		"--kafka-brokers", "must be host:port", "--shutdown-timeout", "must be positive",
		"--clickhouse-database", "plain identifier", "--clickhouse-addr (STELLER_CLICKHOUSE_ADDR) is required",
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestValuesRejected(t *testing.T) {
	t.Parallel()
	cases := []struct{ setting, value string }{
		{config.ControlPlaneAddr, "8080"},
		{config.ControlPlaneAddr, "host:99999"},
		{config.PostgresURL, "postgres:///nohost"},
		{config.StackProfile, "prod"},
		{config.StackKafka, "kfake"},
		{config.DataDir, ""},
		{config.ShutdownTimeout, "soon"},
		{config.SignupLimit, "10"},
		{config.SignupLimit, "10/soon"},
		{config.SignupLimit, "-1/1h"},
		{config.LoginLimit, "20/1ms"},
		{config.LoginFreeFailures, "-1"},
		{config.LiveVendorAddr, "8400"},
		{config.LiveVendorDelay, "0s"},
		{config.LiveVendorDelay, "2h"},
		{config.SandboxDelay, "-1s"},
	}
	for _, tc := range cases {
		t.Run(tc.setting+"="+tc.value, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, []string{tc.setting}, nil, map[string]string{tc.setting: tc.value})
			assert.ErrorContains(t, err, "--"+tc.setting)
		})
	}
}

func TestEverySettingHasHelpAndAnEnvironmentVariable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, s := range config.Settings() {
		assert.NotEmpty(t, s.Usage, s.Flag)
		require.NotEmpty(t, s.Env, s.Flag)
		for _, e := range s.Env {
			assert.False(t, seen[e], "environment variable %s used twice", e)
			seen[e] = true
		}
	}
}

func TestLookupPanicsOnUnknownSetting(t *testing.T) {
	t.Parallel()
	assert.Panics(t, func() { config.Lookup("no-such-setting") })
}
