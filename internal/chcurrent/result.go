package chcurrent

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Column is one column of a result: its name and ClickHouse type, as the engine says.
type Column struct {
	// Name is the column's name or alias.
	Name string `json:"name"`
	// Type is the ClickHouse type, such as UInt64 or Array(Float64).
	Type string `json:"type"`
}

// Result is one statement's answer. Each value is canonical JSON text, whichever engine
// it came from (see Collect for the 18.16 server's rows): strings and times as JSON
// strings (a DateTime as "2006-01-02 15:04:05" in its column's zone, UTC by default, a
// Date as "2006-01-02"),
// integers in decimal, floats in Go's shortest form ("nan", "inf" and "-inf" as strings),
// NULL as null, arrays as [a,b]. Two engines that agree give equal Results.
type Result struct {
	// Columns are the result's columns, in order.
	Columns []Column
	// Rows are the values, one slice per row, in column order.
	Rows [][]string
}

// canonical turns the runner's JSONCompact output into a Result (nil: no output).
func (r *rawResult) canonical() (Result, error) {
	if r == nil {
		return Result{}, nil
	}
	out := Result{Columns: r.Meta, Rows: make([][]string, len(r.Data))}
	for i, row := range r.Data {
		if len(row) != len(r.Meta) {
			return Result{}, fmt.Errorf("row %d has %d values for %d columns", i, len(row), len(r.Meta))
		}
		out.Rows[i] = make([]string, len(row))
		for j, raw := range row {
			v, err := canonicalJSON(raw, r.Meta[j].Type)
			if err != nil {
				return Result{}, fmt.Errorf("row %d, column %s: %w", i, r.Meta[j].Name, err)
			}
			out.Rows[i][j] = v
		}
	}
	return out, nil
}

// baseType strips the wrappers that do not change how a value prints.
func baseType(typ string) string {
	for _, wrapper := range []string{"Nullable(", "LowCardinality("} {
		for strings.HasPrefix(typ, wrapper) && strings.HasSuffix(typ, ")") {
			typ = typ[len(wrapper) : len(typ)-1]
		}
	}
	return typ
}

// canonicalJSON puts one value of ClickHouse's JSON output of type typ in canonical form.
// The type decides, not the JSON: ClickHouse prints 1e20 as a Float64 without a point,
// and may quote 64-bit integers.
func canonicalJSON(raw json.RawMessage, typ string) (string, error) {
	typ = baseType(typ)
	if string(raw) == "null" {
		return "null", nil
	}
	switch {
	case strings.HasPrefix(typ, "Array(") && strings.HasSuffix(typ, ")"):
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return "", fmt.Errorf("%s value %s: %w", typ, raw, err)
		}
		inner := typ[len("Array(") : len(typ)-1]
		parts := make([]string, len(items))
		for i, item := range items {
			v, err := canonicalJSON(item, inner)
			if err != nil {
				return "", err
			}
			parts[i] = v
		}
		return "[" + strings.Join(parts, ",") + "]", nil
	case typ == "Float32" || typ == "Float64":
		text := unquote(raw)
		bits := 64
		if typ == "Float32" {
			bits = 32
		}
		f, err := strconv.ParseFloat(text, bits)
		if err != nil {
			return "", fmt.Errorf("%s value %s: %w", typ, raw, err)
		}
		return canonicalFloat(f, bits), nil
	case isIntegerType(typ):
		text := unquote(raw)
		if digits := strings.TrimPrefix(text, "-"); digits == "" || strings.Trim(digits, "0123456789") != "" {
			return "", fmt.Errorf("%s value %s is not an integer", typ, raw)
		}
		return text, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return canonicalString(s), nil
	}
	var v any // bools, tuples and the like: compact JSON
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("%s value %s: %w", typ, raw, err)
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// unquote returns the text of a JSON string, or raw itself.
func unquote(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func isIntegerType(typ string) bool {
	for _, prefix := range []string{"UInt", "Int"} {
		if rest, ok := strings.CutPrefix(typ, prefix); ok {
			_, err := strconv.Atoi(rest)
			return err == nil
		}
	}
	return false
}

func canonicalFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return `"nan"`
	case math.IsInf(f, 1):
		return `"inf"`
	case math.IsInf(f, -1):
		return `"-inf"`
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

func canonicalString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Collect reads every row of a clickhouse-go query (on the 18.16 server) into a Result of
// the same canonical form as Session's, and closes rows.
func Collect(rows driver.Rows) (Result, error) {
	defer rows.Close()
	types := rows.ColumnTypes()
	out := Result{Columns: make([]Column, len(types))}
	for i, ct := range types {
		out.Columns[i] = Column{Name: ct.Name(), Type: ct.DatabaseTypeName()}
	}
	for rows.Next() {
		ptrs := make([]any, len(types))
		for i, ct := range types {
			ptrs[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return Result{}, fmt.Errorf("chcurrent: scan: %w", err)
		}
		row := make([]string, len(types))
		for i, p := range ptrs {
			v, err := canonicalColumnValue(reflect.ValueOf(p).Elem(), types[i].DatabaseTypeName())
			if err != nil {
				return Result{}, fmt.Errorf("chcurrent: column %s: %w", types[i].Name(), err)
			}
			row[i] = v
		}
		out.Rows = append(out.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("chcurrent: rows: %w", err)
	}
	return out, nil
}

// canonicalColumnValue is canonicalValue for a value of a column of type typ: the driver
// scans a Date into a time.Time, which prints as the day alone, as current ClickHouse
// prints it.
func canonicalColumnValue(v reflect.Value, typ string) (string, error) {
	if b := baseType(typ); (b == "Date" || b == "Date32") && v.Type() == timeType {
		return canonicalString(v.Interface().(time.Time).Format(time.DateOnly)), nil
	}
	return canonicalValue(v)
}

// canonicalValue puts one scanned Go value in canonical form.
func canonicalValue(v reflect.Value) (string, error) {
	if v.Type() == timeType {
		t := v.Interface().(time.Time)
		return canonicalString(t.Format(time.DateTime)), nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "null", nil
		}
		return canonicalValue(v.Elem())
	case reflect.String:
		return canonicalString(v.String()), nil
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10), nil
	case reflect.Float32:
		return canonicalFloat(v.Float(), 32), nil
	case reflect.Float64:
		return canonicalFloat(v.Float(), 64), nil
	case reflect.Slice, reflect.Array:
		if s, ok := v.Interface().(fmt.Stringer); ok {
			return canonicalString(s.String()), nil // such as a UUID
		}
		parts := make([]string, v.Len())
		for i := range parts {
			p, err := canonicalValue(v.Index(i))
			if err != nil {
				return "", err
			}
			parts[i] = p
		}
		return "[" + strings.Join(parts, ",") + "]", nil
	}
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return canonicalString(s.String()), nil
	}
	return "", fmt.Errorf("%s values are not supported", v.Type())
}
