package chcurrent

import (
	"database/sql/driver"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Bind returns sql with each `?` placeholder replaced by the next argument written as a
// ClickHouse literal, the way clickhouse-go binds positional arguments on the client
// before it sends a query: a `?` inside a string literal, a quoted identifier or a comment
// is text, and `\?` is a literal `?`. Unlike the driver, it fails when the numbers of
// placeholders and arguments differ.
//
// Literals: strings (and []byte) in single quotes with \, ' and NUL escaped as the driver
// does; integers in decimal; bools as 1 and 0; floats as cast(x, 'Float64') (or
// 'Float32'), so that 1.0 stays a float; nil and nil pointers as NULL; slices and arrays
// as [a, b]; a driver.Valuer by its value and any other fmt.Stringer as its quoted text.
// A time.Time is its second in UTC, toDateTime('2006-01-02 15:04:05', 'UTC'): the same
// instant as the driver's literal (which names the value's own zone), whatever the
// server's time zone. Fractions of a second are dropped, as the driver drops them for
// `?` arguments.
func Bind(sql string, args ...any) (string, error) {
	var (
		b     strings.Builder
		last  int // sql[:last] is in b
		next  int // the next argument
		state scanState
	)
	b.Grow(len(sql) + 16*len(args))
	for i := 0; i < len(sql); i++ {
		if sql[i] != '?' || state.inIdentifierOrComment() {
			i = state.update(sql, i)
			continue
		}
		if i > 0 && sql[i-1] == '\\' {
			b.WriteString(sql[last : i-1]) // `\?` is a literal ?, without the backslash
			b.WriteByte('?')
			last = i + 1
			continue
		}
		if state.inSingle {
			continue
		}
		if next >= len(args) {
			return "", fmt.Errorf("chcurrent: bind: more placeholders than the %d arguments in %q", len(args), sql)
		}
		lit, err := literal(args[next])
		if err != nil {
			return "", fmt.Errorf("chcurrent: bind argument %d: %w", next, err)
		}
		b.WriteString(sql[last:i])
		b.WriteString(lit)
		last = i + 1
		next++
	}
	if next != len(args) {
		return "", fmt.Errorf("chcurrent: bind: %d placeholders for %d arguments in %q", next, len(args), sql)
	}
	b.WriteString(sql[last:])
	return b.String(), nil
}

// scanState says whether the scanner is inside a quoted identifier, a string literal or
// a comment, where a `?` is not a placeholder. ClickHouse comments are `--` or `#` to
// the end of the line, and `/* */`, which nest.
type scanState struct {
	inBacktick, inSingle, inDouble, inLineComment bool
	blockComment                                  int
}

func (s *scanState) inIdentifierOrComment() bool {
	return s.inBacktick || s.inDouble || s.inLineComment || s.blockComment > 0
}

// update consumes the byte at pos and returns the index of the last byte consumed (pos+1
// for the two-byte tokens `--`, `/*`, `*/` and a doubled quote).
func (s *scanState) update(sql string, pos int) int {
	c := sql[pos]
	two := func(d byte) bool { return pos+1 < len(sql) && sql[pos+1] == d }
	closes := func(q byte) (closed bool, end int) {
		if c != q || isEscaped(sql, pos) {
			return false, pos
		}
		if two(q) {
			return false, pos + 1 // a doubled quote stays inside
		}
		return true, pos
	}
	switch {
	case s.inLineComment:
		s.inLineComment = c != '\n'
	case s.blockComment > 0:
		switch {
		case c == '/' && two('*'):
			s.blockComment++
			return pos + 1
		case c == '*' && two('/'):
			s.blockComment--
			return pos + 1
		}
	case s.inBacktick:
		closed, end := closes('`')
		s.inBacktick = !closed
		return end
	case s.inSingle:
		closed, end := closes('\'')
		s.inSingle = !closed
		return end
	case s.inDouble:
		closed, end := closes('"')
		s.inDouble = !closed
		return end
	case isEscaped(sql, pos):
	case c == '`':
		s.inBacktick = true
	case c == '\'':
		s.inSingle = true
	case c == '"':
		s.inDouble = true
	case c == '#':
		s.inLineComment = true
	case c == '-' && two('-'):
		s.inLineComment = true
		return pos + 1
	case c == '/' && two('*'):
		s.blockComment++
		return pos + 1
	}
	return pos
}

// isEscaped reports whether the byte at pos follows an odd number of backslashes.
func isEscaped(sql string, pos int) bool {
	n := 0
	for i := pos - 1; i >= 0 && sql[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// stringEscaper escapes a string literal's body as clickhouse-go does: backslash first,
// NUL as \0 so binary strings survive.
var stringEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`)

// Quote returns s as a ClickHouse string literal.
func Quote(s string) string {
	return "'" + stringEscaper.Replace(s) + "'"
}

var timeType = reflect.TypeFor[time.Time]()

// literal writes one argument as a ClickHouse literal (see Bind).
func literal(v any) (string, error) {
	return literalAt(v, false)
}

func literalAt(v any, nested bool) (string, error) {
	if valuer, ok := v.(driver.Valuer); ok {
		value, err := valuer.Value()
		if err != nil {
			return "", err
		}
		v = value
	}
	switch v := v.(type) {
	case nil:
		return "NULL", nil
	case string:
		return Quote(v), nil
	case []byte:
		if v == nil {
			return "NULL", nil
		}
		if !nested {
			return Quote(string(v)), nil // a top-level []byte is a String, as in the driver
		}
	case time.Time:
		return "toDateTime(" + Quote(v.UTC().Format(time.DateTime)) + ", 'UTC')", nil
	case bool:
		if v {
			return "1", nil
		}
		return "0", nil
	case time.Duration:
		return "", fmt.Errorf("%T is not supported", v)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return "NULL", nil
		}
		return literalAt(rv.Elem().Interface(), nested)
	case reflect.String:
		if s, ok := v.(fmt.Stringer); ok {
			return Quote(s.String()), nil
		}
		return Quote(rv.String()), nil
	case reflect.Bool:
		return literalAt(rv.Bool(), nested)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.Float32:
		return floatLiteral(rv.Float(), 32), nil
	case reflect.Float64:
		return floatLiteral(rv.Float(), 64), nil
	case reflect.Slice, reflect.Array:
		if s, ok := v.(fmt.Stringer); ok && rv.Type() != timeType {
			return Quote(s.String()), nil // such as a UUID, a [16]byte
		}
		items := make([]string, rv.Len())
		for i := range items {
			item, err := literalAt(rv.Index(i).Interface(), true)
			if err != nil {
				return "", err
			}
			items[i] = item
		}
		return "[" + strings.Join(items, ", ") + "]", nil
	}
	if s, ok := v.(fmt.Stringer); ok {
		return Quote(s.String()), nil
	}
	return "", fmt.Errorf("%T is not supported", v)
}

// floatLiteral casts the number so that an integral value stays a float, and spells NaN
// and the infinities as ClickHouse reads them.
func floatLiteral(f float64, bits int) string {
	typ := "'Float64'"
	if bits == 32 {
		typ = "'Float32'"
	}
	var num string
	switch {
	case math.IsNaN(f):
		num = "'nan'"
	case math.IsInf(f, 1):
		num = "'inf'"
	case math.IsInf(f, -1):
		num = "'-inf'"
	default:
		num = strconv.FormatFloat(f, 'g', -1, bits)
	}
	return "cast(" + num + ", " + typ + ")"
}
