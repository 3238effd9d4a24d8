package growth

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// CSV writes the rows of one of the report's tables (one of Tables) as CSV: a header of
// the JSON field names, then one line per row; null is an empty field.
func (r *GrowthReport) CSV(table string) ([]byte, error) {
	rows := reflect.ValueOf(r.table(table))
	if rows.Kind() != reflect.Slice {
		return nil, fmt.Errorf("growth: no table %q", table)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(columns(rows.Type().Elem())); err != nil {
		return nil, err
	}
	for i := range rows.Len() {
		if err := w.Write(fields(rows.Index(i))); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// columns are the JSON names of a row type's fields, embedded structs flattened.
func columns(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			out = append(out, columns(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}

// fields are a row's values in columns' order.
func fields(v reflect.Value) []string {
	var out []string
	for i := range v.NumField() {
		f := v.Field(i)
		if v.Type().Field(i).Anonymous {
			out = append(out, fields(f)...)
			continue
		}
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				out = append(out, "")
				continue
			}
			f = f.Elem()
		}
		switch f.Kind() {
		case reflect.String:
			out = append(out, defuse(f.String()))
		case reflect.Int, reflect.Int64:
			out = append(out, strconv.FormatInt(f.Int(), 10))
		case reflect.Uint64:
			out = append(out, strconv.FormatUint(f.Uint(), 10))
		case reflect.Float64:
			out = append(out, strconv.FormatFloat(f.Float(), 'g', -1, 64))
		case reflect.Bool:
			out = append(out, strconv.FormatBool(f.Bool()))
		default:
			panic(fmt.Sprintf("growth: no CSV form for %s", f.Type()))
		}
	}
	return out
}

// defuse prefixes a text field that a spreadsheet would run as a formula (a referral code
// is partner input) with a single quote, as OWASP advises for CSV exports.
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
