package kongstandin

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Schema is a plugin's Kong schema as a plugin server dumps it: a name and a list of
// fields, one of which is "config".
type Schema struct {
	// Name is the plugin name.
	Name string `json:"name"`
	// Fields are the top-level fields; go-pdk dumps only "config".
	Fields []NamedField `json:"fields"`
}

// Config returns the schema of the plugin config (the record under the "config" field).
func (s Schema) Config() (Field, error) {
	for _, f := range s.Fields {
		if f.Name == "config" {
			if f.Field.Type != "record" {
				return Field{}, fmt.Errorf("schema %q: config is a %q, want a record", s.Name, f.Field.Type)
			}
			return f.Field, nil
		}
	}
	return Field{}, fmt.Errorf("schema %q has no config field", s.Name)
}

// Field is the type declaration of one Kong schema field.
type Field struct {
	// Type is one of Kong's schema types: string, boolean, integer, number, array, set,
	// map, record.
	Type string `json:"type"`
	// Required marks a field Kong refuses to leave unset.
	Required bool `json:"required,omitempty"`
	// Default is the value Kong fills in when the field is unset.
	Default any `json:"default,omitempty"`
	// Between bounds an integer or number field, inclusive.
	Between []float64 `json:"between,omitempty"`
	// OneOf lists the values a field may take.
	OneOf []any `json:"one_of,omitempty"`
	// Elements is the type of an array's elements.
	Elements *Field `json:"elements,omitempty"`
	// Keys is the type of a map's keys.
	Keys *Field `json:"keys,omitempty"`
	// Values is the type of a map's values.
	Values *Field `json:"values,omitempty"`
	// Fields are a record's fields, in order.
	Fields []NamedField `json:"fields,omitempty"`
}

// NamedField is one entry of a record's field list; Kong writes it as {"<name>": {...}}.
type NamedField struct {
	// Name is the field name, the config key.
	Name string
	// Field is its declaration.
	Field Field
}

// UnmarshalJSON reads Kong's single-key object form.
func (n *NamedField) UnmarshalJSON(data []byte) error {
	var m map[string]Field
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	if len(m) != 1 {
		return fmt.Errorf("schema field entry has %d keys, want 1", len(m))
	}
	for k, v := range m {
		n.Name, n.Field = k, v
	}
	return nil
}

// MarshalJSON writes Kong's single-key object form.
func (n NamedField) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]Field{n.Name: n.Field})
}

// Lookup returns a record's field by name.
func (f Field) Lookup(name string) (Field, bool) {
	for _, nf := range f.Fields {
		if nf.Name == name {
			return nf.Field, true
		}
	}
	return Field{}, false
}

// CheckConfig checks a plugin config (decoded from JSON or YAML) against the config record
// the way Kong's schema validation would: every key is a field of the schema, every value
// has a compatible type, bounds and one_of hold, and required fields without a default are
// present. It reports every problem it finds, sorted, joined into one error.
func CheckConfig(schema Field, config map[string]any) error {
	var problems []string
	checkRecord("config", schema, config, &problems)
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return errors.New(strings.Join(problems, "; "))
}

func checkRecord(path string, rec Field, value map[string]any, problems *[]string) {
	for key, v := range value {
		f, ok := rec.Lookup(key)
		if !ok {
			*problems = append(*problems, fmt.Sprintf("%s.%s: unknown field (not in the plugin schema)", path, key))
			continue
		}
		checkValue(path+"."+key, f, v, problems)
	}
	for _, nf := range rec.Fields {
		if !nf.Field.Required || nf.Field.Default != nil {
			continue
		}
		if v, ok := value[nf.Name]; !ok || v == nil {
			*problems = append(*problems, fmt.Sprintf("%s.%s: required field missing", path, nf.Name))
		}
	}
}

func checkValue(path string, f Field, v any, problems *[]string) {
	if v == nil {
		// Kong treats null as unset; only required fields care, checked by the record.
		return
	}
	bad := func(want string) {
		*problems = append(*problems, fmt.Sprintf("%s: got %T, want %s", path, v, want))
	}
	switch f.Type {
	case "string":
		if _, ok := v.(string); !ok {
			bad("string")
			return
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("boolean")
			return
		}
	case "integer", "number":
		n, ok := toFloat(v)
		if !ok {
			bad(f.Type)
			return
		}
		if f.Type == "integer" && n != math.Trunc(n) {
			bad("integer")
			return
		}
		if len(f.Between) == 2 && (n < f.Between[0] || n > f.Between[1]) {
			*problems = append(*problems, fmt.Sprintf("%s: %v is not between %v and %v", path, n, f.Between[0], f.Between[1]))
		}
	case "array", "set":
		list, ok := v.([]any)
		if !ok {
			bad("array")
			return
		}
		if f.Elements != nil {
			for i, e := range list {
				checkValue(fmt.Sprintf("%s[%d]", path, i), *f.Elements, e, problems)
			}
		}
	case "map":
		m, ok := toMap(v)
		if !ok {
			bad("map")
			return
		}
		for k, e := range m {
			if f.Keys != nil {
				checkValue(path+" key "+k, *f.Keys, k, problems)
			}
			if f.Values != nil {
				checkValue(path+"."+k, *f.Values, e, problems)
			}
		}
	case "record":
		m, ok := toMap(v)
		if !ok {
			bad("record")
			return
		}
		checkRecord(path, f, m, problems)
	default:
		*problems = append(*problems, fmt.Sprintf("%s: schema type %q is not understood", path, f.Type))
		return
	}
	if len(f.OneOf) > 0 && !slices.ContainsFunc(f.OneOf, func(o any) bool { return fmt.Sprint(o) == fmt.Sprint(v) }) {
		*problems = append(*problems, fmt.Sprintf("%s: %v is not one of %v", path, v, f.OneOf))
	}
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func toMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, e := range m {
			ks, ok := k.(string)
			if !ok {
				return nil, false
			}
			out[ks] = e
		}
		return out, true
	}
	return nil, false
}
