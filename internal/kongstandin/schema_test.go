package kongstandin_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/kongstandin"
)

func TestParseDump(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		dump     string
		wantName string
		wantErr  string
	}{
		{"go-pdk form", `{"Protocol":"ProtoBuf:1","SocketPath":"/k/x.socket","Plugins":[{"Name":"x","Phases":["access"],"Version":"1","Priority":5,"Schema":{"name":"x","fields":[{"config":{"type":"record","fields":[]}}]}}]}`, "x", ""},
		{"bare array", `[{"Name":"y","Phases":["log"]}]`, "y", ""},
		{"no plugins", `{"Protocol":"ProtoBuf:1","Plugins":[]}`, "", "lists 0 plugins"},
		{"two plugins", `[{"Name":"a"},{"Name":"b"}]`, "", "lists 2 plugins"},
		{"nameless", `[{"Phases":["log"]}]`, "", "without a name"},
		{"not json", `not json`, "", "parse dump"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			info, err := kongstandin.ParseDump([]byte(tt.dump))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantName, info.Name)
		})
	}
}

// echoConfigSchema is the config record the echo plugin dumps.
func echoConfigSchema(t *testing.T) kongstandin.Field {
	t.Helper()
	info, err := kongstandin.Dump(context.Background(), echoBinary)
	require.NoError(t, err)
	cfg, err := info.Schema.Config()
	require.NoError(t, err)
	return cfg
}

func TestDumpSchemaFollowsTheConfigStruct(t *testing.T) {
	t.Parallel()
	cfg := echoConfigSchema(t)
	tests := []struct {
		field    string
		wantType string
	}{
		{"instance", "string"},
		{"upstream_port", "integer"},
		{"tags", "array"},
		{"limits", "map"},
		{"strict", "boolean"},
		{"ratio", "number"},
	}
	for _, tt := range tests {
		f, ok := cfg.Lookup(tt.field)
		require.True(t, ok, tt.field)
		assert.Equal(t, tt.wantType, f.Type, tt.field)
	}
	_, ok := cfg.Lookup("ignored")
	assert.False(t, ok, "go-pdk drops int64 fields from the schema")
	tags, _ := cfg.Lookup("tags")
	require.NotNil(t, tags.Elements)
	assert.Equal(t, "string", tags.Elements.Type)
}

func TestCheckConfig(t *testing.T) {
	t.Parallel()
	cfg := echoConfigSchema(t)
	// A hand-made record for what go-pdk never dumps: required fields and bounds.
	strict := kongstandin.Field{Type: "record", Fields: []kongstandin.NamedField{
		{Name: "url", Field: kongstandin.Field{Type: "string", Required: true}},
		{Name: "mode", Field: kongstandin.Field{Type: "string", OneOf: []any{"a", "b"}}},
		{Name: "port", Field: kongstandin.Field{Type: "integer", Between: []float64{1, 65535}}},
		{Name: "opts", Field: kongstandin.Field{Type: "record", Fields: []kongstandin.NamedField{
			{Name: "on", Field: kongstandin.Field{Type: "boolean"}},
		}}},
	}}
	tests := []struct {
		name    string
		schema  kongstandin.Field
		config  map[string]any
		wantErr []string
	}{
		{"valid", cfg, map[string]any{"instance": "a", "upstream_port": 8080, "tags": []any{"x"}, "limits": map[string]any{"rps": 10}, "strict": true, "ratio": 0.5}, nil},
		{"null is unset", cfg, map[string]any{"instance": nil}, nil},
		{"yaml map form", cfg, map[string]any{"limits": map[any]any{"rps": 10}}, nil},
		{"unknown field", cfg, map[string]any{"instanse": "a"}, []string{"config.instanse: unknown field"}},
		{"int64 field dropped from schema", cfg, map[string]any{"ignored": 1}, []string{"config.ignored: unknown field"}},
		{"wrong scalar types", cfg, map[string]any{"instance": 1, "strict": "yes", "upstream_port": "80"}, []string{"config.instance: got int, want string", "config.strict: got string, want boolean", "config.upstream_port: got string, want integer"}},
		{"fraction for integer", cfg, map[string]any{"upstream_port": 80.5}, []string{"want integer"}},
		{"array elements", cfg, map[string]any{"tags": []any{"x", 2}}, []string{"config.tags[1]: got int, want string"}},
		{"map values", cfg, map[string]any{"limits": map[string]any{"rps": "ten"}}, []string{"config.limits.rps: got string, want integer"}},
		{"required missing", strict, map[string]any{}, []string{"config.url: required field missing"}},
		{"one_of and between", strict, map[string]any{"url": "u", "mode": "c", "port": 70000}, []string{"config.mode: c is not one of [a b]", "config.port: 70000 is not between 1 and 65535"}},
		{"nested record", strict, map[string]any{"url": "u", "opts": map[string]any{"on": "y", "off": true}}, []string{"config.opts.off: unknown field", "config.opts.on: got string, want boolean"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := kongstandin.CheckConfig(tt.schema, tt.config)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tt.wantErr {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}
