package policies

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// ForbiddenBuiltins are the OPA builtins no policy may call, at validation in the control
// plane or at any edge: each reaches outside the process. http.send makes HTTP requests
// (the cloud metadata address, internal services); net.lookup_ip_addr resolves names
// through the host's DNS; opa.runtime exposes the process's environment and configuration.
// Every other builtin of this OPA version computes on its arguments in process.
var ForbiddenBuiltins = []string{"http.send", "net.lookup_ip_addr", "opa.runtime"}

// capabilities are this OPA version's capabilities without ForbiddenBuiltins, and with no
// network host allowed should a builtin try anyway.
var capabilities = func() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	kept := make([]*ast.Builtin, 0, len(caps.Builtins))
	for _, b := range caps.Builtins {
		if !slices.Contains(ForbiddenBuiltins, b.Name) {
			kept = append(kept, b)
		}
	}
	caps.Builtins = kept
	caps.AllowNet = []string{}
	return caps
}()

// newCompiler is the compiler every policy and its tests go through: Rego v1, restricted
// capabilities.
func newCompiler() *ast.Compiler {
	return ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1).WithCapabilities(capabilities)
}

// ForbiddenCall is one call of a forbidden builtin in a policy file.
type ForbiddenCall struct {
	// File is the module's path in the bundle.
	File string
	// Builtin is the builtin called, such as http.send.
	Builtin string
	// Row is the line of the call.
	Row int
}

// ForbiddenCallsError lists the forbidden builtins a bundle calls.
type ForbiddenCallsError []ForbiddenCall

// Error names every forbidden call and why it is refused.
func (e ForbiddenCallsError) Error() string {
	parts := make([]string, len(e))
	for i, c := range e {
		parts[i] = fmt.Sprintf("%s:%d calls %s", c.File, c.Row, c.Builtin)
	}
	return "policies may not call builtins that reach outside the process (" + strings.Join(ForbiddenBuiltins, ", ") +
		"): " + strings.Join(parts, "; ")
}

// CheckSources parses Rego sources (path to text) and reports every call of a forbidden
// builtin as a ForbiddenCallsError; a file that does not parse is left to compilation.
func CheckSources(files map[string]string) error {
	modules := map[string]*ast.Module{}
	for path, src := range files {
		if !strings.HasSuffix(path, ".rego") {
			continue
		}
		m, err := ast.ParseModuleWithOpts(path, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err == nil {
			modules[path] = m
		}
	}
	return forbiddenCalls(modules)
}

// forbiddenCalls finds the calls of ForbiddenBuiltins in modules, as a statement
// (http.send(req, resp)) or inside one (resp := http.send(req)).
func forbiddenCalls(modules map[string]*ast.Module) error {
	var found ForbiddenCallsError
	note := func(path string, op *ast.Term) {
		name := op.String()
		if slices.Contains(ForbiddenBuiltins, name) {
			row := 0
			if op.Location != nil {
				row = op.Location.Row
			}
			found = append(found, ForbiddenCall{File: strings.TrimPrefix(path, "/"), Builtin: name, Row: row})
		}
	}
	for path, m := range modules {
		ast.WalkExprs(m, func(e *ast.Expr) bool {
			if e.IsCall() {
				note(path, e.OperatorTerm())
			}
			return false
		})
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if call, ok := t.Value.(ast.Call); ok && len(call) > 0 {
				note(path, call[0])
			}
			return false
		})
	}
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].File != found[j].File {
			return found[i].File < found[j].File
		}
		return found[i].Row < found[j].Row
	})
	return found
}
