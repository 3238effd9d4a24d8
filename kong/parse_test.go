// Package kong_test checks Steller's Kong deployment files (kong.yml, Dockerfile,
// kong.conf): decK validation, the plugin config against the plugin's own -dump schema,
// and that every file names the plugin and its plugin server the same way.
package kong_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// pluginName is the Kong plugin name of Steller's edge.
const pluginName = "steller-edge"

// deckFile is the part of a decK/Kong declarative file the tests read.
type deckFile struct {
	FormatVersion string         `yaml:"_format_version"`
	Services      []deckService  `yaml:"services"`
	Routes        []deckRoute    `yaml:"routes"`
	Upstreams     []deckUpstream `yaml:"upstreams"`
	Plugins       []deckPlugin   `yaml:"plugins"`
}

type deckService struct {
	Name     string       `yaml:"name"`
	Host     string       `yaml:"host"`
	URL      string       `yaml:"url"`
	Protocol string       `yaml:"protocol"`
	Routes   []deckRoute  `yaml:"routes"`
	Plugins  []deckPlugin `yaml:"plugins"`
}

type deckRoute struct {
	Name      string       `yaml:"name"`
	Paths     []string     `yaml:"paths"`
	Methods   []string     `yaml:"methods"`
	StripPath *bool        `yaml:"strip_path"`
	Plugins   []deckPlugin `yaml:"plugins"`
}

type deckUpstream struct {
	Name    string `yaml:"name"`
	Targets []any  `yaml:"targets"`
}

type deckPlugin struct {
	Name   string         `yaml:"name"`
	Config map[string]any `yaml:"config"`
}

// placedPlugin is a plugin entry with where it sits in the file.
type placedPlugin struct {
	where  string
	plugin deckPlugin
}

func readKongYML(t *testing.T, path string) deckFile {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var f deckFile
	require.NoError(t, yaml.Unmarshal(data, &f), "parse %s", path)
	return f
}

// allPlugins lists every plugin entry: global, on services, on routes.
func (f deckFile) allPlugins() []placedPlugin {
	var out []placedPlugin
	for _, p := range f.Plugins {
		out = append(out, placedPlugin{"global", p})
	}
	routes := func(prefix string, rs []deckRoute) {
		for _, r := range rs {
			for _, p := range r.Plugins {
				out = append(out, placedPlugin{prefix + "route " + r.Name, p})
			}
		}
	}
	for _, s := range f.Services {
		for _, p := range s.Plugins {
			out = append(out, placedPlugin{"service " + s.Name, p})
		}
		routes("service "+s.Name+" ", s.Routes)
	}
	routes("", f.Routes)
	return out
}

// dockerfile is what the tests read from a Dockerfile: ARG defaults, ENV values, COPY
// instructions and RUN commands, continuation lines joined.
type dockerfile struct {
	args   map[string]string
	env    map[string]string
	copies []dockerCopy
	runs   []string
}

type dockerCopy struct {
	from, src, dst string
}

func readDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	d := dockerfile{args: map[string]string{}, env: map[string]string{}}
	var logical []string
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	for _, line := range logical {
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "ARG":
			k, v, _ := strings.Cut(rest, "=")
			d.args[k] = v
		case "ENV":
			for _, tok := range shellWords(t, rest) {
				k, v, ok := strings.Cut(tok, "=")
				require.True(t, ok, "ENV token %q is not KEY=value", tok)
				d.env[k] = v
			}
		case "COPY":
			words := shellWords(t, rest)
			var c dockerCopy
			if strings.HasPrefix(words[0], "--from=") {
				c.from = strings.TrimPrefix(words[0], "--from=")
				words = words[1:]
			}
			require.GreaterOrEqual(t, len(words), 2, "COPY %q", rest)
			c.dst = words[len(words)-1]
			for _, src := range words[:len(words)-1] {
				c.src = src
				d.copies = append(d.copies, c)
			}
		case "RUN":
			d.runs = append(d.runs, rest)
		}
	}
	return d
}

func (d dockerfile) copyDest(t *testing.T, from, src string) string {
	t.Helper()
	for _, c := range d.copies {
		if c.from == from && c.src == src {
			return c.dst
		}
	}
	t.Fatalf("Dockerfile has no COPY --from=%q %s", from, src)
	return ""
}

// shellWords splits on spaces outside double quotes and removes the quotes.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inQuote, inWord := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, inWord = !inQuote, true
		case (r == ' ' || r == '\t') && !inQuote:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	require.False(t, inQuote, "unbalanced quote in %q", s)
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// readKongConf reads `key = value` lines of a kong.conf, comments skipped.
func readKongConf(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	conf := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "kong.conf line %d is not key = value: %q", i+1, line)
		conf[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return conf
}

var goDirective = regexp.MustCompile(`(?m)^go (\S+)$`)

// goVersion is the go directive of the module's go.mod.
func goVersion(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	m := goDirective.FindSubmatch(data)
	require.NotNil(t, m, "go.mod has no go directive")
	return string(m[1])
}

// envKey is the KONG_* variable for a kong.conf key.
func envKey(confKey string) string {
	return "KONG_" + strings.ToUpper(confKey)
}

// pluginServerKey is Kong's config prefix for a plugin server name
// (kong/runloop/plugin_servers/process.lua: "pluginserver_" .. name:gsub("-", "_")).
func pluginServerKey(name, setting string) string {
	return fmt.Sprintf("pluginserver_%s_%s", strings.ReplaceAll(strings.ToLower(name), "-", "_"), setting)
}
