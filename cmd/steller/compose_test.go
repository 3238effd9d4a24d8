package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/internal/config"
)

// loadCompose parses docker-compose.yml with the compose-spec loader, which validates it
// against the Compose specification's schema.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "docker-compose.yml"))
	require.NoError(t, err)
	details, err := loader.LoadConfigFiles(context.Background(), []string{path}, filepath.Dir(path))
	require.NoError(t, err)
	project, err := loader.LoadWithContext(context.Background(), *details, func(o *loader.Options) {
		o.SetProjectName("steller", true)
	})
	require.NoError(t, err, "docker-compose.yml does not load")
	return project
}

// stellerCommand returns the steller subcommand a service runs, or "" for other images.
func stellerCommand(svc types.ServiceConfig) string {
	if svc.Image != "steller:local" || len(svc.Command) == 0 {
		return ""
	}
	return svc.Command[0]
}

func TestComposeServicesRunCommandsAndSettingsTheBinaryAccepts(t *testing.T) {
	t.Parallel()
	project := loadCompose(t)
	specs := serviceSpecs()
	root := rootCommand()
	ran := map[string]bool{}
	for name, svc := range project.Services {
		cmd := stellerCommand(svc)
		if cmd == "" {
			continue
		}
		ran[cmd] = true
		t.Run(name, func(t *testing.T) {
			require.NotNil(t, root.Command(cmd), "service %s runs unknown subcommand %q", name, cmd)
			spec, ok := specs[cmd]
			require.True(t, ok, "subcommand %q is not a service subcommand", cmd)

			settings := config.Lookup(spec.Settings...)
			env := map[string]string{}
			for k, v := range svc.Environment {
				require.NotNil(t, v, "%s: %s has no value", name, k)
				env[k] = *v
			}
			known := map[string]bool{}
			for _, s := range settings {
				for _, e := range s.Env {
					known[e] = true
				}
			}
			for k := range env {
				assert.True(t, known[k], "%s sets %s, which `steller %s` does not read", name, k, cmd)
			}
			// The service's environment must load as the binary would load it.
			_, err := spec.Load(func(s config.Setting) string {
				for _, e := range s.Env {
					if v, ok := env[e]; ok {
						return v
					}
				}
				return s.Default
			})
			assert.NoError(t, err, "%s: configuration the binary rejects", name)
		})
	}
	// The production edge is Kong with the steller-edge plugin; `steller gateway` is the
	// edge host for local runs and tests, so compose need not run it.
	for cmd := range specs {
		if cmd != "gateway" {
			assert.True(t, ran[cmd], "no compose service runs `steller %s`", cmd)
		}
	}
}

func TestComposeServicesAreHealthCheckedAndOrdered(t *testing.T) {
	t.Parallel()
	project := loadCompose(t)
	for name, svc := range project.Services {
		if svc.Restart == "no" {
			continue // one-shot jobs such as migrate
		}
		assert.NotNil(t, svc.HealthCheck, "service %s has no healthcheck", name)
		for dep, d := range svc.DependsOn {
			_, exists := project.Services[dep]
			require.True(t, exists, "%s depends on unknown service %s", name, dep)
			assert.Contains(t, []string{"service_healthy", "service_completed_successfully"}, d.Condition,
				"%s must wait for %s to be healthy or done", name, dep)
		}
		for _, p := range svc.Ports {
			assert.Equal(t, "127.0.0.1", p.HostIP, "%s publishes port %d beyond loopback", name, p.Target)
		}
		assert.False(t, strings.HasSuffix(svc.Image, ":latest") || (svc.Image != "" && !strings.Contains(svc.Image, ":")),
			"%s: pin the image version (%q)", name, svc.Image)
	}
}

func TestComposeRunsCurrentClickHouseAndKRaftKafka(t *testing.T) {
	t.Parallel()
	project := loadCompose(t)
	ch := project.Services["clickhouse"].Image
	major, err := strconv.Atoi(strings.SplitN(strings.SplitN(ch, ":", 2)[1], ".", 2)[0])
	require.NoError(t, err, ch)
	assert.GreaterOrEqual(t, major, 24, "production ClickHouse must be 24.x or later")
	kafka := project.Services["kafka"]
	roles := kafka.Environment["KAFKA_PROCESS_ROLES"]
	require.NotNil(t, roles)
	assert.Equal(t, "broker,controller", *roles)
	assert.True(t, slices.ContainsFunc(project.Services["migrate"].Command, func(s string) bool { return s == "migrate" }))
}

// The edge (Kong's plugin) signs what it forwards and the sandbox and the live vendor
// verify it: all must hold the same secrets, and neither upstream may be published beside
// Kong.
func TestComposeEdgeAndSandboxShareTheSigningSecrets(t *testing.T) {
	t.Parallel()
	project := loadCompose(t)
	secrets := func(svc string) string {
		v := project.Services[svc].Environment["STELLER_EDGE_SIGNING_SECRETS"]
		require.NotNil(t, v, "%s has no STELLER_EDGE_SIGNING_SECRETS", svc)
		return *v
	}
	assert.Equal(t, secrets("kong"), secrets("sandbox"))
	assert.Equal(t, secrets("kong"), secrets("live-vendor"))
	_, err := edgesign.ParseSecrets(strings.Split(secrets("kong"), ","))
	assert.NoError(t, err)
	assert.Empty(t, project.Services["sandbox"].Ports, "only Kong reaches the sandbox")
	assert.Empty(t, project.Services["live-vendor"].Ports, "only Kong reaches the live vendor")
}

// Kong's plugin sends test keys to the compose sandbox and live keys to the compose live
// vendor stand-in, at the addresses those services listen on, and Kong waits for both.
func TestComposeKongRoutesKeysToTheComposeVendors(t *testing.T) {
	t.Parallel()
	project := loadCompose(t)
	raw, err := os.ReadFile(filepath.Join("..", "..", "kong", "kong.yml"))
	require.NoError(t, err)
	var kong struct {
		Services []struct {
			Plugins []struct {
				Name   string         `yaml:"name"`
				Config map[string]any `yaml:"config"`
			} `yaml:"plugins"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &kong))
	var cfg map[string]any
	for _, s := range kong.Services {
		for _, p := range s.Plugins {
			if p.Name == "steller-edge" {
				cfg = p.Config
			}
		}
	}
	require.NotNil(t, cfg, "kong.yml has no steller-edge plugin")
	for field, svc := range map[string]string{"sandbox_upstream_url": "sandbox", "live_upstream_url": "live-vendor"} {
		u, err := url.Parse(fmt.Sprint(cfg[field]))
		require.NoError(t, err, field)
		assert.Equal(t, svc, u.Hostname(), "%s names the compose service %s", field, svc)
		var addr string
		for k, v := range project.Services[svc].Environment {
			if strings.HasSuffix(k, "_ADDR") && v != nil {
				addr = *v
			}
		}
		_, port, ok := strings.Cut(addr, ":")
		require.True(t, ok, "%s has no listen address", svc)
		assert.Equal(t, port, u.Port(), "%s: %s listens on %s", field, svc, addr)
		dep, ok := project.Services["kong"].DependsOn[svc]
		assert.True(t, ok && dep.Condition == "service_healthy", "kong waits for %s to be healthy", svc)
	}
}

// The control plane's readiness (which names failing dependencies) is on its operations
// address, and its healthcheck asks there.
func TestComposeChecksTheControlPlaneOnItsOpsAddress(t *testing.T) {
	t.Parallel()
	svc := loadCompose(t).Services["control-plane"]
	ops := svc.Environment["STELLER_CONTROL_PLANE_OPS_ADDR"]
	require.NotNil(t, ops)
	_, port, ok := strings.Cut(*ops, ":")
	require.True(t, ok, *ops)
	require.NotNil(t, svc.HealthCheck)
	assert.Contains(t, svc.HealthCheck.Test, "http://127.0.0.1:"+port+"/readyz")
	for _, p := range svc.Ports {
		assert.NotEqual(t, port, strconv.Itoa(int(p.Target)), "the operations address is not published")
	}
}
