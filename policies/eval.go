package policies

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// ErrPolicy wraps every error DecideEdge returns: the policy could not be evaluated, was
// undefined, or returned a malformed decision. Callers must fail closed on it (deny the
// request with a server-side problem response), never treat it as an allow.
var ErrPolicy = errors.New("policy error")

// eval runs one prepared query with a parsed input and returns its single value. This is
// the generic path every typed helper goes through.
func (s *policySet) eval(ctx context.Context, id queryID, input ast.Value) (any, error) {
	rs, err := s.prepared[id].Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, errUndefined
	}
	if len(rs) > 1 {
		return nil, fmt.Errorf("query %s has %d results, want one", queries[id], len(rs))
	}
	return rs[0].Expressions[0].Value, nil
}

// evalEdge evaluates the edge decision for in, bypassing the cache.
func (s *policySet) evalEdge(ctx context.Context, in *EdgeInput) (Decision, error) {
	v, err := s.eval(ctx, queryEdge, edgeInputValue(in))
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %s: %w", ErrPolicy, queries[queryEdge], err)
	}
	d, err := parseDecision(v)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %s: %w", ErrPolicy, queries[queryEdge], err)
	}
	return d, nil
}

// edgeInputValue builds the Rego input straight as an AST object: handing rego a Go struct
// would round-trip it through JSON on every evaluation.
func edgeInputValue(in *EdgeInput) ast.Value {
	roles := make([]*ast.Term, len(in.Roles))
	for i, r := range in.Roles {
		roles[i] = ast.StringTerm(r)
	}
	return ast.NewObject(
		ast.Item(edgeKeys[0], ast.StringTerm(in.Method)),
		ast.Item(edgeKeys[1], ast.StringTerm(in.Path)),
		ast.Item(edgeKeys[2], ast.StringTerm(in.Route)),
		ast.Item(edgeKeys[3], ast.StringTerm(in.Environment)),
		ast.Item(edgeKeys[4], ast.ArrayTerm(roles...)),
		ast.Item(edgeKeys[5], ast.StringTerm(in.PartnerID)),
		ast.Item(edgeKeys[6], ast.StringTerm(in.PartnerStatus)),
	)
}

// edgeKeys are the input object's keys, built once; AST terms are never mutated, so
// every evaluation can share them.
var edgeKeys = [...]*ast.Term{
	ast.StringTerm("method"), ast.StringTerm("path"), ast.StringTerm("route"),
	ast.StringTerm("environment"), ast.StringTerm("roles"), ast.StringTerm("partner_id"),
	ast.StringTerm("partner_status"),
}

// parseDecision checks the policy's answer has the contract's shape: allow is a boolean,
// code and reason are strings, and a denial carries a code.
func parseDecision(v any) (Decision, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("decision is %T, want an object", v)
	}
	var d Decision
	if d.Allow, ok = obj["allow"].(bool); !ok {
		return Decision{}, fmt.Errorf("decision.allow is %T, want a boolean", obj["allow"])
	}
	if raw, present := obj["code"]; present {
		if d.Code, ok = raw.(string); !ok {
			return Decision{}, fmt.Errorf("decision.code is %T, want a string", raw)
		}
	}
	if raw, present := obj["reason"]; present {
		if d.Reason, ok = raw.(string); !ok {
			return Decision{}, fmt.Errorf("decision.reason is %T, want a string", raw)
		}
	}
	if !d.Allow && d.Code == "" {
		return Decision{}, errors.New("a denying decision has no code")
	}
	return d, nil
}

// appendKey appends the decision-cache key of in to buf: each field the policy reads,
// length-prefixed so no choice of field values can collide with another. Roles are taken
// in the order given (the caller sorts them); an unsorted list only costs a cache miss.
func appendKey(buf []byte, in *EdgeInput, fields inputFields) []byte {
	str := func(buf []byte, s string) []byte {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		return append(buf, s...)
	}
	buf = append(buf, byte(fields))
	if fields&fieldMethod != 0 {
		buf = str(buf, in.Method)
	}
	if fields&fieldPath != 0 {
		buf = str(buf, in.Path)
	}
	if fields&fieldRoute != 0 {
		buf = str(buf, in.Route)
	}
	if fields&fieldEnvironment != 0 {
		buf = str(buf, in.Environment)
	}
	if fields&fieldRoles != 0 {
		buf = binary.AppendUvarint(buf, uint64(len(in.Roles)))
		for _, r := range in.Roles {
			buf = str(buf, r)
		}
	}
	if fields&fieldPartnerID != 0 {
		buf = str(buf, in.PartnerID)
	}
	if fields&fieldPartnerStatus != 0 {
		buf = str(buf, in.PartnerStatus)
	}
	return buf
}
