package postman

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// example is a value for schema s and whether the document gave one (an example, const,
// default or enum value) anywhere in it. Objects hold their required properties (in the
// order the schema lists them) and, after them, the optional ones that have an example;
// a value the document does not give is the zero value of its type. refs are the
// references being expanded, so a recursive schema stops instead of looping.
func (d *document) example(s *schema, refs []string) (json.RawMessage, bool) {
	if s == nil {
		return nil, false
	}
	switch {
	case present(s.Example):
		return s.Example, true
	case len(s.Examples) > 0 && present(s.Examples[0]):
		return s.Examples[0], true
	case s.Ref != "":
		if slices.Contains(refs, s.Ref) {
			return nil, false
		}
		target, err := d.resolveSchema(s.Ref)
		if err != nil {
			return nil, false
		}
		return d.example(target, append(slices.Clip(refs), s.Ref))
	case present(s.Const):
		return s.Const, true
	case present(s.Default):
		return s.Default, true
	}
	for _, e := range s.Enum {
		if present(e) {
			return e, true
		}
	}
	if len(s.AllOf) > 0 {
		return d.allOf(s.AllOf, refs)
	}
	for _, alts := range [][]*schema{s.OneOf, s.AnyOf} {
		for _, alt := range alts {
			if alt.Ref != "" || alt.Type.main() != "" || len(alt.Properties) > 0 || present(alt.Example) || len(alt.Examples) > 0 {
				return d.example(alt, refs)
			}
		}
	}
	kind := s.Type.main()
	switch {
	case kind == "" && s.Properties != nil:
		kind = "object"
	case kind == "" && s.Items != nil:
		kind = "array"
	}
	switch kind {
	case "object":
		return d.object(s, refs)
	case "array":
		if item, found := d.example(s.Items, refs); found {
			return json.RawMessage("[" + string(item) + "]"), true
		}
		return json.RawMessage("[]"), false
	case "string":
		return json.RawMessage(`""`), false
	case "integer", "number":
		return json.RawMessage("0"), false
	case "boolean":
		return json.RawMessage("false"), false
	}
	return nil, false
}

// object is the example of an object schema (see example).
func (d *document) object(s *schema, refs []string) (json.RawMessage, bool) {
	names := slices.Clone(s.Required)
	optional := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		if !slices.Contains(names, name) {
			optional = append(optional, name)
		}
	}
	sort.Strings(optional)
	var b bytes.Buffer
	b.WriteByte('{')
	anyFound, n := false, 0
	for i, name := range append(names, optional...) {
		value, found := d.example(s.Properties[name], refs)
		if !found && i >= len(names) {
			continue // optional, with nothing to show
		}
		if value == nil {
			value = json.RawMessage("null")
		}
		anyFound = anyFound || found
		key, _ := json.Marshal(name)
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(key)
		b.WriteByte(':')
		b.Write(value)
		n++
	}
	b.WriteByte('}')
	return b.Bytes(), anyFound
}

// allOf merges the examples of parts: their properties when every part is an object, else
// the first part's value.
func (d *document) allOf(parts []*schema, refs []string) (json.RawMessage, bool) {
	merged := map[string]json.RawMessage{}
	var keys []string
	anyFound := false
	for _, part := range parts {
		value, found := d.example(part, refs)
		anyFound = anyFound || found
		var fields map[string]json.RawMessage
		if value == nil || json.Unmarshal(value, &fields) != nil {
			first, ok := d.example(parts[0], refs)
			return first, ok
		}
		for _, k := range orderedKeys(value) {
			if _, seen := merged[k]; !seen {
				keys = append(keys, k)
			}
			merged[k] = fields[k]
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		b.Write(merged[k])
	}
	b.WriteByte('}')
	return b.Bytes(), anyFound
}

// orderedKeys are the keys of a JSON object in the order written.
func orderedKeys(object json.RawMessage) []string {
	dec := json.NewDecoder(bytes.NewReader(object))
	if _, err := dec.Token(); err != nil { // {
		return nil
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return keys
		}
	}
	return keys
}

// resolveSchema is the schema a local reference (#/components/schemas/Name) names.
func (d *document) resolveSchema(ref string) (*schema, error) {
	name, err := component(ref, "schemas")
	if err != nil {
		return nil, err
	}
	if s, ok := d.Components.Schemas[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("unresolved $ref %q", ref)
}

// resolveParam is p, or the parameter its reference names.
func (d *document) resolveParam(p *parameter) (*parameter, error) {
	if p == nil || p.Ref == "" {
		return p, nil
	}
	name, err := component(p.Ref, "parameters")
	if err != nil {
		return nil, err
	}
	if target, ok := d.Components.Parameters[name]; ok && target.Ref == "" {
		return target, nil
	}
	return nil, fmt.Errorf("unresolved $ref %q", p.Ref)
}

// resolveBody is rb, or the request body its reference names.
func (d *document) resolveBody(rb *requestBody) (*requestBody, error) {
	if rb.Ref == "" {
		return rb, nil
	}
	name, err := component(rb.Ref, "requestBodies")
	if err != nil {
		return nil, err
	}
	if target, ok := d.Components.RequestBodies[name]; ok && target.Ref == "" {
		return target, nil
	}
	return nil, fmt.Errorf("unresolved $ref %q", rb.Ref)
}

// component is the name a local reference to #/components/<kind>/<name> gives, its JSON
// pointer escapes undone; references to other documents are not followed.
func component(ref, kind string) (string, error) {
	name, ok := strings.CutPrefix(ref, "#/components/"+kind+"/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("$ref %q is not a reference to #/components/%s in this document", ref, kind)
	}
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(name), nil
}

// auth is how a request meeting one of the security requirements reqs authenticates in
// Postman, using {{apiKey}}: an API-key header, else a bearer token, else an API-key query
// parameter (only requirements of a single scheme count: Postman sends one). It is noauth
// when the requirements allow none, and nil when Postman cannot express them.
func (d *document) auth(reqs []map[string][]string) *Auth {
	key := "{{" + VarAPIKey + "}}"
	var best *Auth
	bestRank := 99
	optional := len(reqs) == 0
	for _, req := range reqs {
		if len(req) == 0 {
			optional = true
		}
		if len(req) != 1 {
			continue
		}
		for name := range req {
			sc := d.Components.SecuritySchemes[name]
			if sc == nil {
				continue
			}
			var a *Auth
			rank := 99
			switch {
			case sc.Type == "apiKey" && sc.In == "header":
				rank, a = 0, apiKeyAuth(sc.Name, key, "header")
			case sc.Type == "http" && strings.EqualFold(sc.Scheme, "bearer"):
				rank, a = 1, &Auth{Type: "bearer", Bearer: []Variable{{Key: "token", Value: key, Type: "string"}}}
			case sc.Type == "apiKey" && sc.In == "query":
				rank, a = 2, apiKeyAuth(sc.Name, key, "query")
			}
			if a != nil && rank < bestRank {
				best, bestRank = a, rank
			}
		}
	}
	if best == nil && optional {
		return &Auth{Type: "noauth"}
	}
	return best
}

func apiKeyAuth(name, value, in string) *Auth {
	return &Auth{Type: "apikey", APIKey: []Variable{
		{Key: "key", Value: name, Type: "string"},
		{Key: "value", Value: value, Type: "string"},
		{Key: "in", Value: in, Type: "string"},
	}}
}

// sendsKey says the auth sends {{apiKey}}.
func (a *Auth) sendsKey() bool { return a != nil && (a.Type == "apikey" || a.Type == "bearer") }

// same says a and b authenticate alike.
func (a *Auth) same(b *Auth) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Type == b.Type && slices.Equal(a.APIKey, b.APIKey) && slices.Equal(a.Bearer, b.Bearer)
}
