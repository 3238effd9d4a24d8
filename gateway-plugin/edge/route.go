package edge

import (
	"fmt"
	"strings"
)

// RouteUnknown is the route name of a request that matches no route.
const RouteUnknown = "unknown"

// Route maps a method and path pattern to a route name. A pattern is a path whose segments
// are literal, "{name}" (exactly one non-empty segment), or a final "*" (one or more
// remaining segments).
type Route struct {
	Name, Method, Pattern string
}

// DefaultRoutes are the partner API's routes; which roles and environments may call each is
// policy (policies/rego/steller/edge/data.json), not routing.
var DefaultRoutes = []Route{
	{"catalog.list", "GET", "/v1/catalog"},
	{"orders.create", "POST", "/v1/orders"},
	{"orders.get", "GET", "/v1/orders/{id}"},
	{"balance.get", "GET", "/v1/balance"},
	{"settlements.list", "GET", "/v1/settlements"},
	{"sandbox.simulate", "POST", "/v1/sandbox/*"},
}

// router matches requests against compiled routes. Matching walks the path in place and
// allocates nothing.
type router struct {
	routes []compiledRoute
}

type compiledRoute struct {
	name, method string
	segments     []string // literal, "{}" for one segment, "*" for the rest
}

func newRouter(routes []Route) (*router, error) {
	r := &router{}
	for _, rt := range routes {
		if rt.Name == "" || rt.Method == "" || !strings.HasPrefix(rt.Pattern, "/") {
			return nil, fmt.Errorf("edge: route %q: name, method and a pattern starting with / are required", rt.Name)
		}
		segs := strings.Split(rt.Pattern[1:], "/")
		for i, s := range segs {
			switch {
			case s == "*" && i != len(segs)-1:
				return nil, fmt.Errorf("edge: route %q: * must be the last segment", rt.Name)
			case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
				segs[i] = "{}"
			case s == "":
				return nil, fmt.Errorf("edge: route %q: empty segment in %q", rt.Name, rt.Pattern)
			}
		}
		r.routes = append(r.routes, compiledRoute{name: rt.Name, method: strings.ToUpper(rt.Method), segments: segs})
	}
	return r, nil
}

// match returns the name of the first route matching method and path, or RouteUnknown.
// A path with empty, "." or ".." segments never matches: an upstream that normalises it
// would serve a different route than the one decided ("/v1/sandbox/../orders").
func (r *router) match(method, path string) string {
	if !canonical(path) {
		return RouteUnknown
	}
	for i := range r.routes {
		rt := &r.routes[i]
		if rt.method == method && rt.matches(path) {
			return rt.name
		}
	}
	return RouteUnknown
}

func (rt *compiledRoute) matches(path string) bool {
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	rest := path[1:]
	for i, seg := range rt.segments {
		if seg == "*" {
			return rest != ""
		}
		part, tail, more := strings.Cut(rest, "/")
		switch seg {
		case "{}":
			if part == "" {
				return false
			}
		default:
			if part != seg {
				return false
			}
		}
		last := i == len(rt.segments)-1
		if last {
			return !more
		}
		if !more {
			return false
		}
		rest = tail
	}
	return false
}

// canonical reports whether path is absolute with no empty, "." or ".." segments.
func canonical(path string) bool {
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	for rest := path[1:]; ; {
		seg, tail, more := strings.Cut(rest, "/")
		if seg == "." || seg == ".." || (seg == "" && more) {
			return false
		}
		if !more {
			return true
		}
		rest = tail
	}
}
