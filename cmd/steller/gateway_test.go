package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/steller/platform/internal/config"
)

func loadGateway(raw map[string]string) error {
	_, err := gatewaySpec.Load(func(s config.Setting) string {
		if v, ok := raw[s.Flag]; ok {
			return v
		}
		return s.Default
	})
	return err
}

func TestGatewaySettingsNameExactlyOneKeySource(t *testing.T) {
	t.Parallel()
	const secret = "esig_gateway-settings-test-signing-secret-0"
	upstreams := map[string]string{config.SandboxUpstreamURL: "http://sandbox:8081", config.LiveUpstreamURL: "https://live", config.KafkaBrokers: "kafka:9092", config.EdgeSigningSecrets: secret}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range upstreams {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	cases := []struct {
		name string
		raw  map[string]string
		want string // "" means valid
	}{
		{"keys file", with(map[string]string{config.EdgeKeysFile: "/etc/keys.json"}), ""},
		{"control plane with token", with(map[string]string{config.ControlPlaneURL: "http://cp:8080", config.EdgeToken: "t"}), ""},
		{"no key source", with(nil), "name the key source"},
		{"two key sources", with(map[string]string{config.EdgeKeysFile: "/k", config.ControlPlaneURL: "http://cp", config.EdgeToken: "t"}), "choose one"},
		{"control plane without token", with(map[string]string{config.ControlPlaneURL: "http://cp"}), "--edge-token is required"},
		{"bundle URL without token", with(map[string]string{config.EdgeKeysFile: "/k", config.PolicyBundleURL: "http://cp/b"}), "--edge-token is required"},
		{"bad upstream", map[string]string{config.SandboxUpstreamURL: "sandbox:8081", config.LiveUpstreamURL: "https://live", config.EdgeKeysFile: "/k", config.KafkaBrokers: "kafka:9092", config.EdgeSigningSecrets: secret}, "--sandbox-upstream-url"},
		{"no kafka", map[string]string{config.SandboxUpstreamURL: "http://s", config.LiveUpstreamURL: "https://live", config.EdgeKeysFile: "/k", config.EdgeSigningSecrets: secret}, "--kafka-brokers"},
		{"no signing secret", map[string]string{config.SandboxUpstreamURL: "http://s", config.LiveUpstreamURL: "https://live", config.EdgeKeysFile: "/k", config.KafkaBrokers: "kafka:9092"}, "--edge-signing-secrets"},
		{"bad trusted proxy", with(map[string]string{config.EdgeKeysFile: "/k", config.TrustedProxies: "10.0.0.1, nonsense"}), "nonsense"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := loadGateway(tc.raw)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.want)
		})
	}
}
