package api

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
)

// This file keeps the server and its OpenAPI document in agreement where Huma, left alone,
// would not: an empty query value, a null in an optional body field, and a method on a
// literal path that a parameterised sibling would otherwise capture.

// nullableOptionals marks every optional property of op's request body as accepting null,
// which Huma's decoder takes as absent, and every required one as refusing it: the
// document then says what the server does.
func nullableOptionals(oapi *huma.OpenAPI, op *huma.Operation) {
	if op.RequestBody == nil || oapi.Components == nil || oapi.Components.Schemas == nil {
		return
	}
	seen := map[*huma.Schema]bool{}
	for _, media := range op.RequestBody.Content {
		if media.Schema != nil {
			markNullable(oapi.Components.Schemas, media.Schema, seen)
		}
	}
}

func markNullable(registry huma.Registry, s *huma.Schema, seen map[*huma.Schema]bool) {
	for s.Ref != "" {
		if s = registry.SchemaFromRef(s.Ref); s == nil {
			return
		}
	}
	if seen[s] || s.Type != huma.TypeObject {
		return
	}
	seen[s] = true
	for name, prop := range s.Properties {
		if prop.ReadOnly {
			continue // $schema, which clients do not send
		}
		if prop.Ref != "" {
			markNullable(registry, prop, seen)
		}
		if slices.Contains(s.Required, name) {
			// Huma makes arrays nullable by default; a required one must not be null.
			prop.Nullable = false
			continue
		}
		// A referenced object stays as it is: Huma cannot validate an anyOf with null
		// without losing the object's own rules.
		if prop.Ref == "" && prop.AnyOf == nil && prop.Type != "" {
			prop.Nullable = true
		}
	}
}

// noNULPattern is the rule unstorableText enforces on every path and query value.
const noNULPattern = "^[^\\x00]*$"

// documentNoNUL states on op's free-text path and query parameters that they hold no NUL
// byte, which unstorableText refuses with a 400 before any handler.
func documentNoNUL(op *huma.Operation) {
	for _, p := range op.Parameters {
		s := p.Schema
		if (p.In != "query" && p.In != "path") || s == nil || s.Type != huma.TypeString || s.Pattern != "" || s.Enum != nil || s.Format != "" {
			continue
		}
		s.Pattern = noNULPattern
		s.PrecomputeMessages()
	}
}

// emptyQueryValues refuses a query parameter sent with an empty value ("?to=") that its
// schema does not accept. Huma treats an empty value as absent, which would accept what
// the document forbids.
func (a *API) emptyQueryValues(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op == nil || ctx.URL().RawQuery == "" {
		next(ctx)
		return
	}
	u := ctx.URL()
	query := u.Query()
	var errs []error
	for _, p := range op.Parameters {
		if p.In != "query" || p.Schema == nil {
			continue
		}
		values, sent := query[p.Name]
		if sent && slices.Contains(values, "") && !acceptsEmpty(p.Schema) {
			errs = append(errs, &huma.ErrorDetail{Location: "query." + p.Name, Message: "must not be empty", Value: ""})
		}
	}
	if len(errs) > 0 {
		_ = huma.WriteErr(a.huma, ctx, http.StatusUnprocessableEntity, "validation failed", errs...)
		return
	}
	next(ctx)
}

// patterns caches compiled parameter patterns.
var patterns sync.Map // string -> *regexp.Regexp

// acceptsEmpty reports whether s, a parameter schema, admits the empty string.
func acceptsEmpty(s *huma.Schema) bool {
	if s.Type != huma.TypeString || s.Format != "" || (s.MinLength != nil && *s.MinLength > 0) {
		return false
	}
	if s.Enum != nil && !slices.Contains(s.Enum, any("")) {
		return false
	}
	if s.Pattern != "" {
		re, ok := patterns.Load(s.Pattern)
		if !ok {
			compiled, err := regexp.Compile(s.Pattern)
			if err != nil {
				return false
			}
			re, _ = patterns.LoadOrStore(s.Pattern, compiled)
		}
		return re.(*regexp.Regexp).MatchString("")
	}
	return true
}

// shadowedMethods answers 405 for a method a literal path does not declare, such as
// GET /v1/admin/policies/rollback, which the mux would otherwise route to the
// parameterised sibling GET /v1/admin/policies/{versionId}. The table is read from the
// OpenAPI document at the first request, when every package has registered its operations.
func (a *API) shadowedMethods(next http.Handler) http.Handler {
	var once sync.Once
	var literal map[string][]string // path -> declared methods
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { literal = literalPaths(a.huma.OpenAPI()) })
		methods, ok := literal[r.URL.Path]
		if ok && !slices.Contains(methods, r.Method) && !(r.Method == http.MethodHead && slices.Contains(methods, http.MethodGet)) {
			methodNotAllowed(w, r.Method, methods)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// literalPaths maps each path of oapi without parameters that shares its segment count
// with a parameterised path to the methods it declares.
func literalPaths(oapi *huma.OpenAPI) map[string][]string {
	out := map[string][]string{}
	for path, item := range oapi.Paths {
		if strings.Contains(path, "{") || !shadowable(oapi, path) {
			continue
		}
		for _, m := range []struct {
			name string
			op   *huma.Operation
		}{{http.MethodGet, item.Get}, {http.MethodPost, item.Post}, {http.MethodPut, item.Put}, {http.MethodPatch, item.Patch}, {http.MethodDelete, item.Delete}} {
			if m.op != nil {
				out[path] = append(out[path], m.name)
			}
		}
	}
	return out
}

// shadowable reports whether a parameterised path of oapi could match the literal path.
func shadowable(oapi *huma.OpenAPI, path string) bool {
	segs := strings.Split(path, "/")
	for other := range oapi.Paths {
		if !strings.Contains(other, "{") {
			continue
		}
		osegs := strings.Split(other, "/")
		if len(osegs) != len(segs) {
			continue
		}
		match := true
		for i := range segs {
			if osegs[i] != segs[i] && !strings.HasPrefix(osegs[i], "{") {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
