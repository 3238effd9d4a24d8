package chcurrent_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/chcurrent"
	"github.com/steller/platform/internal/testenv"
)

// Each literal Bind writes means on both engines what clickhouse-go's own binding of the
// argument means on the 18.16 server: the same value and the same type (for times, the
// same instant: Bind names UTC where the driver names the value's zone).
func TestBindMeansWhatTheDriverBindsOnBothEngines(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	cur := chcurrent.Shared(t)
	ctx := context.Background()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	values := []any{
		"plain", "it's", `back\slash`, "nul\x00byte", "new\nline", "x' OR 1=1 --", "?", "ünïcode", []byte("bytes"),
		0, -5, uint16(402), uint64(math.MaxUint64), int64(math.MinInt64), true,
		0.1, 1.0, 1e20, float32(2.5),
		time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 13, 0, 5, 0, berlin),
		[]string{"a", "b'"}, []uint64{1, 2}, []float64{0.5, 2},
	}
	for _, v := range values {
		lit, err := chcurrent.Bind("?", v)
		require.NoError(t, err)
		_, isTime := v.(time.Time)
		// A time's text depends on its zone, which Bind sets to UTC: compare the instant.
		text := "toString(%s)"
		if isTime {
			text = "toString(toUnixTimestamp(%s))"
		}
		query := func(arg string) string { return "SELECT toTypeName(" + arg + "), " + fmt.Sprintf(text, arg) }
		var driverType, driverText string
		require.NoError(t, ch.Conn.QueryRow(ctx, query("?"), v, v).Scan(&driverType, &driverText), "%#v", v)
		var oldType, oldText string
		require.NoError(t, ch.Conn.QueryRow(ctx, query(lit)).Scan(&oldType, &oldText), lit)
		res, err := cur.Query(ctx, query(lit))
		require.NoError(t, err, lit)
		require.Len(t, res.Rows, 1)
		newType, newText := unquoteJSON(t, res.Rows[0][0]), unquoteJSON(t, res.Rows[0][1])

		assert.Equal(t, driverText, oldText, "18.16: %s against the driver's binding of %#v", lit, v)
		assert.Equal(t, driverText, newText, "current: %s against the driver's binding of %#v on 18.16", lit, v)
		if isTime {
			assert.True(t, strings.HasPrefix(driverType, "DateTime"), driverType)
			assert.Equal(t, "DateTime('UTC')", oldType)
			assert.Equal(t, "DateTime('UTC')", newType)
			continue
		}
		assert.Equal(t, driverType, oldType, "18.16: type of %s", lit)
		assert.Equal(t, driverType, newType, "current: type of %s", lit)
	}
}

func unquoteJSON(t *testing.T, v string) string {
	t.Helper()
	require.True(t, strings.HasPrefix(v, `"`), v)
	var s string
	require.NoError(t, jsonUnmarshal(v, &s))
	return s
}

// Collect (rows of the 18.16 server through clickhouse-go) and Session (current
// ClickHouse) give the same Result for the same answer.
func TestCollectAndSessionAgree(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	cur := chcurrent.Shared(t)
	ctx := context.Background()
	const sql = "SELECT toUInt64(18446744073709551615) AS u, toInt64(-5) AS i, toUInt16(402) AS st, toFloat64(1e20) AS f," +
		" toFloat64(0.1) AS tenth, 'a\"\\n\\'' AS s, [toFloat64(0.5), toFloat64(2)] AS a, toDateTime('2026-03-10 12:34:56', 'UTC') AS t," +
		" toStartOfHour(toDateTime('2026-03-10 12:34:56', 'UTC'), 'UTC') AS h, toNullable(toUInt8(1)) AS n1," +
		" CAST(NULL AS Nullable(String)) AS n2, ['x', 'y'] AS strs, toFloat32(0.1) AS f32, toDate('2026-03-10') AS d"
	rows, err := ch.Conn.Query(ctx, sql)
	require.NoError(t, err)
	old, err := chcurrent.Collect(rows)
	require.NoError(t, err)
	cur2, err := cur.Query(ctx, sql)
	require.NoError(t, err)
	assert.Equal(t, old, cur2)
	assert.Equal(t, [][]string{{"18446744073709551615", "-5", "402", "1e+20", "0.1", `"a\"\n'"`, "[0.5,2]", `"2026-03-10 12:34:56"`,
		`"2026-03-10 12:00:00"`, "1", "null", `["x","y"]`, "0.1", `"2026-03-10"`}}, old.Rows)
}
