package kong_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/gateway-plugin/kongplugin"
	"github.com/steller/platform/internal/kongstandin"
)

const (
	kongYML    = "kong.yml"
	dockerPath = "Dockerfile"
	kongConf   = "kong.conf"
	repoRoot   = ".."
	pluginPkg  = "./gateway-plugin/cmd/steller-edge"
)

// partnerPaths are the partner API paths of ARCHITECTURE.md that Kong must route.
var partnerPaths = []string{"/v1/catalog", "/v1/orders", "/v1/balance", "/v1/settlements", "/v1/sandbox"}

// deployRequired are config fields the plugin needs in a deployment even where its schema
// (go-pdk never marks a field required) lets them be empty; kongplugin.Config.Validate
// also wants a key source, checked by keySource.
var deployRequired = []string{"sandbox_upstream_url", "live_upstream_url"}

// keySource reports whether a steller-edge config names where keys come from: the control
// plane (its edge token comes from edge_token or the plugin server's STELLER_EDGE_TOKEN,
// which the image passes through), or a static keys file.
func keySource(cfg map[string]any) bool {
	set := func(k string) bool { v, _ := cfg[k].(string); return v != "" }
	return set("control_plane_url") || set("keys_file")
}

func TestDeckValidatesKongYML(t *testing.T) {
	t.Parallel()
	deck, err := exec.LookPath("deck")
	if err != nil {
		t.Fatalf("deck is not installed (%v): run `scripts/install.sh tools` (Debian's deck package); this check never skips", err)
	}
	tests := []struct {
		name    string
		file    func(t *testing.T) string
		wantErr string
	}{
		{"kong.yml", func(*testing.T) string { return kongYML }, ""},
		{"negative control: plugin on a missing route", func(t *testing.T) string {
			data, err := os.ReadFile(kongYML)
			require.NoError(t, err)
			broken := string(data) + "\nplugins:\n  - name: " + pluginName + "\n    route: no-such-route\n"
			path := filepath.Join(t.TempDir(), "broken.yml")
			require.NoError(t, os.WriteFile(path, []byte(broken), 0o600))
			return path
		}, "no-such-route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(deck, "validate", "-s", tt.file(t)).CombinedOutput()
			if tt.wantErr == "" {
				require.NoError(t, err, "deck validate: %s", out)
				return
			}
			require.Error(t, err, "deck accepted a broken file")
			assert.Contains(t, string(out), tt.wantErr)
		})
	}
}

func TestKongYMLRoutesThePartnerAPIThroughThePlugin(t *testing.T) {
	t.Parallel()
	f := readKongYML(t, kongYML)
	assert.Equal(t, "3.0", f.FormatVersion)

	upstreams := map[string]deckUpstream{}
	for _, u := range f.Upstreams {
		upstreams[u.Name] = u
	}
	var paths []string
	for _, s := range f.Services {
		// Without the plugin's routing decision a request must go nowhere: the service's
		// host is an upstream without targets.
		u, ok := upstreams[s.Host]
		require.True(t, ok, "service %s host %q is not an upstream of kong.yml", s.Name, s.Host)
		assert.Empty(t, u.Targets, "service %s default upstream must have no targets", s.Name)
		for _, r := range s.Routes {
			require.NotNil(t, r.StripPath, "route %s must set strip_path", r.Name)
			assert.False(t, *r.StripPath, "route %s: upstreams expect the full path", r.Name)
			assert.Empty(t, r.Methods, "route %s: every method must reach the plugin to be decided and logged", r.Name)
			paths = append(paths, r.Paths...)
		}
		names := slices.Collect(func(yield func(string) bool) {
			for _, p := range s.Plugins {
				if !yield(p.Name) {
					return
				}
			}
		})
		assert.Contains(t, names, pluginName, "service %s must run the edge plugin", s.Name)
	}
	for _, p := range partnerPaths {
		assert.Contains(t, paths, p)
	}
}

func TestKongYMLPluginConfigMatchesTheDumpedSchema(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(filepath.Join(repoRoot, pluginPkg)); err != nil {
		t.Fatalf("the plugin binary package %s is missing (%v): this check needs the real steller-edge -dump", pluginPkg, err)
	}
	bin := buildPlugin(t, pluginPkg, pluginName)
	info, checked := checkPluginConfigs(t, bin, kongYML)
	assert.True(t, info.HasPhase("access") && info.HasPhase("log"), "phases %v", info.Phases)
	assert.Positive(t, checked, "kong.yml configures no %s plugin", pluginName)
	for _, pp := range readKongYML(t, kongYML).allPlugins() {
		if pp.plugin.Name == pluginName {
			assert.True(t, keySource(pp.plugin.Config), "%s: set control_plane_url or keys_file", pp.where)
		}
	}

	// The plugin server itself accepts each config as Kong sends it (StartInstance decodes
	// it into kongplugin.Config, Kong's bookkeeping keys included).
	prefix, err := os.MkdirTemp("", "kp")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(prefix) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := kongstandin.Start(ctx, kongstandin.Config{Binary: bin, Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, srv.Close()) })
	for _, pp := range readKongYML(t, kongYML).allPlugins() {
		if pp.plugin.Name != pluginName {
			continue
		}
		cfg, err := json.Marshal(pp.plugin.Config)
		require.NoError(t, err)
		id, err := srv.StartInstance(ctx, pluginName, cfg)
		require.NoError(t, err, "%s: the plugin server refused the config", pp.where)
		st, err := srv.InstanceStatus(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, id, st.ID)
	}
}

// TestSchemaCheckAgainstAThrowawayPlugin runs the same dump-and-check pipeline on the
// kongstandin echo plugin and a fixture that holds one good and one bad config, so the
// pipeline is proven to catch a bad config whatever the real plugin's state.
func TestSchemaCheckAgainstAThrowawayPlugin(t *testing.T) {
	t.Parallel()
	bin := buildPlugin(t, "./internal/kongstandin/testdata/echoplugin", "echo")
	info, err := kongstandin.Dump(context.Background(), bin)
	require.NoError(t, err)
	schema, err := info.Schema.Config()
	require.NoError(t, err)

	results := map[string]error{}
	for _, pp := range readKongYML(t, filepath.Join("testdata", "echo-kong.yml")).allPlugins() {
		require.Equal(t, "echo", pp.plugin.Name)
		results[pp.where] = kongstandin.CheckConfig(schema, pp.plugin.Config)
	}
	require.Len(t, results, 2)
	assert.NoError(t, results["service echo-service route good"])
	require.Error(t, results["service echo-service route bad"])
	for _, want := range []string{
		"config.ignored: unknown field",
		"config.tags[0]: got int, want string",
		"config.upstream_port: got string, want integer",
	} {
		assert.Contains(t, results["service echo-service route bad"].Error(), want)
	}
}

// buildPlugin compiles a plugin main package into a binary named after the plugin, as
// go-pdk requires.
func buildPlugin(t *testing.T, pkg, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), name)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	build.Dir = repoRoot
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build %s: %s", pkg, out)
	return bin
}

// checkPluginConfigs dumps the plugin binary as Kong's query command does and checks every
// config of that plugin in the declarative file against the dumped schema. It returns the
// dumped info and how many configs it checked.
func checkPluginConfigs(t *testing.T, bin, file string) (kongstandin.Info, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := kongstandin.Dump(ctx, bin)
	require.NoError(t, err)
	require.Equal(t, filepath.Base(bin), info.Name)
	schema, err := info.Schema.Config()
	require.NoError(t, err)

	checked := 0
	for _, pp := range readKongYML(t, file).allPlugins() {
		if pp.plugin.Name != info.Name {
			continue
		}
		checked++
		assert.NoError(t, kongstandin.CheckConfig(schema, pp.plugin.Config), "%s plugin config (%s)", info.Name, pp.where)
		for _, field := range deployRequired {
			v, _ := pp.plugin.Config[field].(string)
			assert.NotEmpty(t, v, "%s: config.%s must be set", pp.where, field)
		}
		// Negative control: the same check rejects a field the schema does not have.
		broken := maps.Clone(pp.plugin.Config)
		broken["no_such_field"] = true
		assert.ErrorContains(t, kongstandin.CheckConfig(schema, broken), "config.no_such_field: unknown field")
	}
	return info, checked
}

// The steller image (the repository's own Dockerfile) builds with the same Go as Kong's image
// and as go.mod, whose go line scripts/toolchain.sh exports for every local build.
func TestStellerImageBuildsWithGoModsGo(t *testing.T) {
	t.Parallel()
	d := readDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	assert.Equal(t, goVersion(t, repoRoot), d.args["GO_VERSION"], "the root Dockerfile's GO_VERSION must be go.mod's go version")
}

func TestDockerfileAndKongConfNameThePluginAsKongYMLDoes(t *testing.T) {
	t.Parallel()
	d := readDockerfile(t, dockerPath)
	conf := readKongConf(t, kongConf)
	f := readKongYML(t, kongYML)

	assert.Equal(t, goVersion(t, repoRoot), d.args["GO_VERSION"], "Dockerfile GO_VERSION must be go.mod's go version")
	assert.True(t, strings.HasPrefix(d.args["KONG_VERSION"], "3."), "Kong 3.x, got %q", d.args["KONG_VERSION"])
	assert.Equal(t, "off", d.env["KONG_DATABASE"])
	assert.Equal(t, d.copyDest(t, "", "kong/kong.yml"), d.env["KONG_DECLARATIVE_CONFIG"])
	assert.Equal(t, "/etc/kong/kong.conf", d.copyDest(t, "", "kong/kong.conf"))

	// Every plugin kong.yml uses is enabled.
	enabled := strings.Split(d.env["KONG_PLUGINS"], ",")
	for _, pp := range f.allPlugins() {
		assert.Contains(t, enabled, pp.plugin.Name, "KONG_PLUGINS lacks %s (%s)", pp.plugin.Name, pp.where)
	}
	servers := strings.Split(d.env["KONG_PLUGINSERVER_NAMES"], ",")
	assert.Contains(t, servers, pluginName)

	// The start command runs the binary the build produced, under Kong's prefix; go-pdk
	// then listens on <prefix>/<binary name>.socket, which is the socket Kong dials.
	prefix := d.env["KONG_PREFIX"]
	start := strings.Fields(d.env[envKey(pluginServerKey(pluginName, "start_cmd"))])
	require.Len(t, start, 3, "start_cmd is `<binary> -kong-prefix <prefix>`")
	bin := start[0]
	assert.Equal(t, pluginName, filepath.Base(bin), "go-pdk names the plugin after its binary")
	assert.Equal(t, []string{"-kong-prefix", prefix}, start[1:])
	assert.Equal(t, bin+" -dump", d.env[envKey(pluginServerKey(pluginName, "query_cmd"))])
	assert.Equal(t, filepath.Join(prefix, pluginName+".socket"), d.env[envKey(pluginServerKey(pluginName, "socket"))])
	built := "/out/" + pluginName
	assert.Equal(t, bin, d.copyDest(t, "build", built))
	assert.True(t, slices.ContainsFunc(d.runs, func(r string) bool {
		return strings.Contains(r, "go build") && strings.Contains(r, "-o "+built+" "+pluginPkg)
	}), "the build stage must build %s into %s", pluginPkg, built)

	// kong.conf documents the same settings as the image's environment.
	for key, v := range conf {
		assert.Equal(t, v, d.env[envKey(key)], "kong.conf %s vs Dockerfile %s", key, envKey(key))
	}
	for _, key := range []string{"database", "declarative_config", "plugins", "pluginserver_names",
		pluginServerKey(pluginName, "start_cmd"), pluginServerKey(pluginName, "query_cmd"), pluginServerKey(pluginName, "socket")} {
		assert.Contains(t, conf, key, "kong.conf must document %s", key)
	}
}

// The plugin server reads its secrets from the environment, which nginx clears except for
// the variables its env directives name: the file kong.conf includes in nginx's main block
// must name each one the plugin reads, and the image must put it where kong.conf says.
func TestNginxPassesThePluginItsSecretVariables(t *testing.T) {
	t.Parallel()
	d := readDockerfile(t, dockerPath)
	conf := readKongConf(t, kongConf)
	include := conf["nginx_main_include"]
	require.NotEmpty(t, include, "kong.conf must include the env directives in nginx's main block")
	assert.Equal(t, include, d.copyDest(t, "", "kong/nginx-main-env.conf"))

	raw, err := os.ReadFile("nginx-main-env.conf")
	require.NoError(t, err)
	var named []string
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "env "); ok {
			named = append(named, strings.TrimSuffix(v, ";"))
		}
	}
	assert.ElementsMatch(t, []string{kongplugin.EdgeTokenEnv, kongplugin.EdgeSigningSecretsEnv}, named)

	// kong.yml leaves both secrets to those variables.
	for _, pp := range readKongYML(t, kongYML).allPlugins() {
		if pp.plugin.Name != pluginName {
			continue
		}
		assert.Empty(t, pp.plugin.Config["edge_token"], "%s: edge_token belongs in %s", pp.where, kongplugin.EdgeTokenEnv)
		assert.Empty(t, pp.plugin.Config["edge_signing_secrets"], "%s: edge_signing_secrets belong in %s", pp.where, kongplugin.EdgeSigningSecretsEnv)
	}
}
