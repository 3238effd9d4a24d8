package postman

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// headerIdempotencyKey is the IETF draft's Idempotency-Key header. A collection gives it
// Postman's {{$guid}} when the document has no example, so every send is a new attempt
// rather than a request the API refuses for an empty key.
const headerIdempotencyKey = "Idempotency-Key"

// FromOpenAPI builds a collection from an OpenAPI 3.x document in JSON: a folder per tag
// (the document's tags first, in its order), holding one request per operation (an
// operation with several tags sits in the folder of its first); untagged operations follow
// the folders. Each request is named by the operation's summary (else its operationId) and
// described by its description; its URL is {{baseUrl}} (a collection variable holding the
// first server's URL) then the path with {name} written as Postman's :name path variable,
// and its query and header parameters carry their example, default or first enum value
// (optional ones disabled). A JSON request body is built from the schema's examples, with
// every required field present. The collection authenticates with the document's security:
// an API-key header (preferred), a bearer token or an API-key query parameter, holding the
// {{apiKey}} variable; an operation that needs no authentication says noauth. Cookie
// parameters are left out: Postman keeps cookies itself.
func FromOpenAPI(raw []byte) (*Collection, error) {
	var d document
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("postman: read the OpenAPI document: %w", err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.") {
		return nil, fmt.Errorf("postman: not an OpenAPI 3 document (openapi %q)", d.OpenAPI)
	}
	if d.Info.Title == "" {
		return nil, errors.New("postman: the OpenAPI document has no info.title")
	}
	c := &Collection{
		Info: Info{Name: d.Info.Title, Description: d.Info.Description, Schema: SchemaURL},
		Item: []Item{},
	}
	if d.Security != nil { // without security the requests send no key
		c.Auth = d.auth(d.Security)
	}
	folders, order := map[string]*Item{}, []string{}
	folder := func(tag string) *Item {
		if f, ok := folders[tag]; ok {
			return f
		}
		folders[tag] = &Item{Name: tag, Item: []Item{}}
		order = append(order, tag)
		return folders[tag]
	}
	for _, t := range d.Tags {
		folder(t.Name).Description = t.Description
	}
	var untagged []Item
	usesKey := c.Auth.sendsKey()
	paths := make([]string, 0, len(d.Paths))
	for path := range d.Paths {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		item := d.Paths[path]
		for _, m := range item.operations() {
			req, err := d.request(m.method, path, item.Parameters, m.op, c.Auth)
			if err != nil {
				return nil, fmt.Errorf("postman: %s %s: %w", m.method, path, err)
			}
			usesKey = usesKey || req.Auth.sendsKey()
			it := Item{Name: name(m.method, path, m.op), Request: req}
			if len(m.op.Tags) == 0 {
				untagged = append(untagged, it)
				continue
			}
			f := folder(m.op.Tags[0])
			f.Item = append(f.Item, it)
		}
	}
	for _, tag := range order {
		if f := folders[tag]; len(f.Item) > 0 {
			c.Item = append(c.Item, *f)
		}
	}
	c.Item = append(c.Item, untagged...)
	c.Variable = []Variable{{Key: VarBaseURL, Value: d.baseURL(), Type: "string",
		Description: "Where the API is: every request's URL starts with it."}}
	if usesKey {
		c.Variable = append(c.Variable, Variable{Key: VarAPIKey, Value: "", Type: "string",
			Description: "Your API key; the collection's authorization sends it with every request."})
	}
	return c, nil
}

// name is what a request is called: the operation's summary, else its id, else the
// method and path.
func name(method, path string, op *operation) string {
	switch {
	case op.Summary != "":
		return op.Summary
	case op.OperationID != "":
		return op.OperationID
	}
	return method + " " + path
}

// baseURL is the first server's URL with its variables at their defaults, without a
// trailing slash ("" without servers: the requests' paths are then relative).
func (d *document) baseURL() string {
	if len(d.Servers) == 0 {
		return ""
	}
	u := d.Servers[0].URL
	for name, v := range d.Servers[0].Variables {
		u = strings.ReplaceAll(u, "{"+name+"}", v.Default)
	}
	return strings.TrimRight(u, "/")
}

// request builds the request of one operation; collection is the collection's auth, which
// the request inherits unless its own security differs.
func (d *document) request(method, path string, shared []*parameter, op *operation, collection *Auth) (*Request, error) {
	req := &Request{Method: method, Header: []KeyValue{}, Description: op.Description,
		URL: URL{Host: []string{"{{" + VarBaseURL + "}}"}, Path: []string{}}}
	if op.Deprecated {
		req.Description = strings.TrimSpace("**Deprecated.** " + req.Description)
	}
	params, err := d.parameters(shared, op.Parameters)
	if err != nil {
		return nil, err
	}
	byName := map[string]*parameter{}
	var query []string
	for _, p := range params {
		value := d.paramValue(p)
		switch p.In {
		case "path":
			byName[p.Name] = p
			req.URL.Variable = append(req.URL.Variable, Variable{Key: p.Name, Value: value, Description: p.Description})
		case "query":
			kv := KeyValue{Key: p.Name, Value: value, Description: p.Description, Disabled: !p.Required}
			req.URL.Query = append(req.URL.Query, kv)
			if !kv.Disabled {
				query = append(query, p.Name+"="+value)
			}
		case "header":
			// OpenAPI says a parameter cannot define these: the body and the security do.
			if h := strings.ToLower(p.Name); h == "accept" || h == "content-type" || h == "authorization" {
				continue
			}
			if value == "" && strings.EqualFold(p.Name, headerIdempotencyKey) {
				value = "{{$guid}}"
			}
			req.Header = append(req.Header, KeyValue{Key: p.Name, Value: value, Description: p.Description, Disabled: !p.Required})
		}
	}
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		if seg == "" {
			continue
		}
		for name := range byName {
			seg = strings.ReplaceAll(seg, "{"+name+"}", ":"+name)
		}
		req.URL.Path = append(req.URL.Path, seg)
	}
	req.URL.Raw = "{{" + VarBaseURL + "}}/" + strings.Join(req.URL.Path, "/")
	if len(query) > 0 {
		req.URL.Raw += "?" + strings.Join(query, "&")
	}
	if op.RequestBody != nil {
		if err := d.body(req, op.RequestBody); err != nil {
			return nil, err
		}
	}
	if op.Security != nil {
		if auth := d.auth(*op.Security); auth != nil && !auth.same(collection) {
			req.Auth = auth
		}
	}
	return req, nil
}

// parameters are the path item's parameters overridden (by location and name) and
// followed by the operation's, references resolved.
func (d *document) parameters(shared, own []*parameter) ([]*parameter, error) {
	var out []*parameter
	at := map[[2]string]int{}
	for _, list := range [][]*parameter{shared, own} {
		for _, p := range list {
			p, err := d.resolveParam(p)
			if err != nil {
				return nil, err
			}
			key := [2]string{p.In, p.Name}
			if i, ok := at[key]; ok {
				out[i] = p
				continue
			}
			at[key] = len(out)
			out = append(out, p)
		}
	}
	return out, nil
}

// paramValue is a parameter's example as the text Postman sends: a string unquoted,
// anything else as JSON; "" when the document gives none.
func (d *document) paramValue(p *parameter) string {
	raw := p.Example
	if !present(raw) {
		raw = firstExample(p.Examples)
	}
	if !present(raw) {
		var found bool
		if raw, found = d.example(p.Schema, nil); !found {
			return ""
		}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// body sets the request's body and Content-Type from the operation's request body: JSON
// when the body can be JSON (raw, indented, from the media type's or the schema's
// examples), otherwise the first media type with an empty body to fill in.
func (d *document) body(req *Request, rb *requestBody) error {
	rb, err := d.resolveBody(rb)
	if err != nil {
		return err
	}
	types := make([]string, 0, len(rb.Content))
	for t := range rb.Content {
		types = append(types, t)
	}
	if len(types) == 0 {
		return nil
	}
	sort.Strings(types)
	chosen := types[0]
	if i := slices.IndexFunc(types, isJSON); i >= 0 {
		chosen = types[i]
	}
	if slices.Contains(types, "application/json") {
		chosen = "application/json"
	}
	req.Header = append(req.Header, KeyValue{Key: "Content-Type", Value: chosen})
	req.Body = &Body{Mode: "raw"}
	if !isJSON(chosen) {
		return nil
	}
	mt := rb.Content[chosen]
	raw := mt.Example
	if !present(raw) {
		raw = firstExample(mt.Examples)
	}
	if !present(raw) {
		raw, _ = d.example(mt.Schema, nil)
	}
	if present(raw) {
		var b bytes.Buffer
		if err := json.Indent(&b, raw, "", "  "); err != nil {
			return fmt.Errorf("request body example: %w", err)
		}
		req.Body.Raw = b.String()
	}
	req.Body.Options = &BodyOptions{}
	req.Body.Options.Raw.Language = "json"
	return nil
}

func isJSON(mediaType string) bool {
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}
