package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/config"
)

var tenantLimits = []string{config.KeyLimit, config.WebhookEndpointLim, config.ConsoleOrderLimit, config.WebhookTestLimit, config.EdgeDeadKeyGrace}

func TestTenantLimitsDefaultToTheirDocumentedValues(t *testing.T) {
	t.Parallel()
	c, err := load(t, tenantLimits, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 100, c.KeyLimit)
	assert.Equal(t, 20, c.WebhookEndpointLimit)
	assert.Equal(t, config.Rate{Requests: 10, Per: time.Minute}, c.ConsoleOrderLimit)
	assert.Equal(t, config.Rate{Requests: 20, Per: time.Minute}, c.WebhookTestLimit)
	assert.Equal(t, 24*time.Hour, c.EdgeDeadKeyGrace)
}

func TestTenantLimitsParseAndZeroTurnsThemOff(t *testing.T) {
	t.Parallel()
	c, err := load(t, tenantLimits, nil, map[string]string{
		config.KeyLimit: "3", config.WebhookEndpointLim: "0", config.ConsoleOrderLimit: "5/30s",
		config.WebhookTestLimit: "0", config.EdgeDeadKeyGrace: "90m",
	})
	require.NoError(t, err)
	assert.Equal(t, 3, c.KeyLimit)
	assert.Equal(t, 0, c.WebhookEndpointLimit, "0 is off")
	assert.Equal(t, config.Rate{Requests: 5, Per: 30 * time.Second}, c.ConsoleOrderLimit)
	assert.Equal(t, config.Rate{}, c.WebhookTestLimit, "0 is off")
	assert.Equal(t, 90*time.Minute, c.EdgeDeadKeyGrace)
}

func TestTenantLimitValuesRejected(t *testing.T) {
	t.Parallel()
	cases := []struct{ setting, value string }{
		{config.KeyLimit, "-1"},
		{config.KeyLimit, "many"},
		{config.KeyLimit, "1000001"},
		{config.WebhookEndpointLim, "-5"},
		{config.WebhookEndpointLim, "1.5"},
		{config.ConsoleOrderLimit, "10"},
		{config.ConsoleOrderLimit, "10/1ms"},
		{config.WebhookTestLimit, "0/1m"},
		{config.EdgeDeadKeyGrace, "0s"},
		{config.EdgeDeadKeyGrace, "59s"},
		{config.EdgeDeadKeyGrace, "721h"},
		{config.EdgeDeadKeyGrace, "a day"},
	}
	for _, tc := range cases {
		t.Run(tc.setting+"="+tc.value, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, []string{tc.setting}, nil, map[string]string{tc.setting: tc.value})
			assert.ErrorContains(t, err, "--"+tc.setting)
		})
	}
}
