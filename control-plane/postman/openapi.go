package postman

import (
	"encoding/json"
	"strings"
)

// The parts of an OpenAPI 3.x document that a collection is made from. Values that a
// request carries as they are (examples, defaults, enums) stay raw JSON, so they reach the
// collection exactly as the document wrote them.

type document struct {
	OpenAPI string `json:"openapi"`
	Info    struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		Version     string `json:"version"`
	} `json:"info"`
	Servers []struct {
		URL       string `json:"url"`
		Variables map[string]struct {
			Default string `json:"default"`
		} `json:"variables"`
	} `json:"servers"`
	Paths      map[string]pathItem `json:"paths"`
	Components struct {
		Schemas         map[string]*schema         `json:"schemas"`
		Parameters      map[string]*parameter      `json:"parameters"`
		RequestBodies   map[string]*requestBody    `json:"requestBodies"`
		SecuritySchemes map[string]*securityScheme `json:"securitySchemes"`
	} `json:"components"`
	Security []map[string][]string `json:"security"`
	Tags     []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tags"`
}

type pathItem struct {
	Parameters []*parameter `json:"parameters"`
	Get        *operation   `json:"get"`
	Put        *operation   `json:"put"`
	Post       *operation   `json:"post"`
	Delete     *operation   `json:"delete"`
	Options    *operation   `json:"options"`
	Head       *operation   `json:"head"`
	Patch      *operation   `json:"patch"`
	Trace      *operation   `json:"trace"`
}

// operations are the item's operations by method, in the order Postman users expect.
func (p pathItem) operations() []struct {
	method string
	op     *operation
} {
	all := []struct {
		method string
		op     *operation
	}{{"GET", p.Get}, {"POST", p.Post}, {"PUT", p.Put}, {"PATCH", p.Patch}, {"DELETE", p.Delete},
		{"HEAD", p.Head}, {"OPTIONS", p.Options}, {"TRACE", p.Trace}}
	out := all[:0]
	for _, m := range all {
		if m.op != nil {
			out = append(out, m)
		}
	}
	return out
}

type operation struct {
	OperationID string       `json:"operationId"`
	Summary     string       `json:"summary"`
	Description string       `json:"description"`
	Tags        []string     `json:"tags"`
	Parameters  []*parameter `json:"parameters"`
	RequestBody *requestBody `json:"requestBody"`
	// Security is nil when the operation says nothing (the document's applies) and empty
	// when it needs no authentication.
	Security   *[]map[string][]string `json:"security"`
	Deprecated bool                   `json:"deprecated"`
}

type parameter struct {
	Ref         string                `json:"$ref"`
	Name        string                `json:"name"`
	In          string                `json:"in"`
	Description string                `json:"description"`
	Required    bool                  `json:"required"`
	Schema      *schema               `json:"schema"`
	Example     json.RawMessage       `json:"example"`
	Examples    map[string]exampleObj `json:"examples"`
}

type requestBody struct {
	Ref      string                `json:"$ref"`
	Required bool                  `json:"required"`
	Content  map[string]*mediaType `json:"content"`
}

type mediaType struct {
	Schema   *schema               `json:"schema"`
	Example  json.RawMessage       `json:"example"`
	Examples map[string]exampleObj `json:"examples"`
}

type exampleObj struct {
	Value json.RawMessage `json:"value"`
}

type securityScheme struct {
	Type   string `json:"type"`
	In     string `json:"in"`
	Name   string `json:"name"`
	Scheme string `json:"scheme"`
}

type schema struct {
	Ref        string             `json:"$ref"`
	Type       schemaType         `json:"type"`
	Format     string             `json:"format"`
	Properties map[string]*schema `json:"properties"`
	Required   []string           `json:"required"`
	Items      *schema            `json:"items"`
	AllOf      []*schema          `json:"allOf"`
	AnyOf      []*schema          `json:"anyOf"`
	OneOf      []*schema          `json:"oneOf"`
	Example    json.RawMessage    `json:"example"`
	Examples   []json.RawMessage  `json:"examples"`
	Default    json.RawMessage    `json:"default"`
	Const      json.RawMessage    `json:"const"`
	Enum       []json.RawMessage  `json:"enum"`
}

// schemaType is a schema's type: one name (OpenAPI 3.0) or a list (3.1, e.g. ["string",
// "null"]), kept as the list.
type schemaType []string

func (t *schemaType) UnmarshalJSON(raw []byte) error {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		*t = schemaType{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return err
	}
	*t = many
	return nil
}

// main is the type a value of the schema is written as: the first that is not null.
func (t schemaType) main() string {
	for _, name := range t {
		if name != "null" {
			return name
		}
	}
	return ""
}

// firstExample is the first of examples by name (a document's examples map has no order).
func firstExample(examples map[string]exampleObj) json.RawMessage {
	var first string
	for name, ex := range examples {
		if present(ex.Value) && (first == "" || name < first) {
			first = name
		}
	}
	if first == "" {
		return nil
	}
	return examples[first].Value
}

// present says a raw value was written (null counts as absent).
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && strings.TrimSpace(string(raw)) != "null"
}
