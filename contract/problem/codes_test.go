package problem_test

import (
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/problem"
)

func TestEveryCodeIsWellFormedAndUnique(t *testing.T) {
	t.Parallel()
	name := regexp.MustCompile(`^[a-z][a-z0-9_]*[a-z0-9]$`)
	seen := map[string]bool{}
	for _, c := range problem.Codes() {
		assert.Regexp(t, name, c.Name)
		assert.False(t, seen[c.Name], "%s is listed twice", c.Name)
		seen[c.Name] = true
		assert.True(t, c.Status >= 400 && c.Status <= 599, "%s: status %d", c.Name, c.Status)
		assert.NotEmpty(t, c.Title, c.Name)
		got, ok := problem.Lookup(c.Name)
		assert.True(t, ok, c.Name)
		assert.Equal(t, c, got)
	}
	_, ok := problem.Lookup("no_such_code")
	assert.False(t, ok)
}

// Every generic code StatusCode hands out is registered, with the status it stands for
// (a status without its own code takes bad_request or internal_error).
func TestStatusCodesAreRegistered(t *testing.T) {
	t.Parallel()
	for status := 400; status <= 599; status++ {
		code := problem.StatusCode(status)
		c, ok := problem.Lookup(code)
		if !assert.True(t, ok, "StatusCode(%d) = %s, which is not registered", status, code) {
			continue
		}
		if c.Status != status {
			assert.Contains(t, []string{"bad_request", "internal_error"}, code,
				"StatusCode(%d) = %s, registered with status %d", status, code, c.Status)
		}
	}
}

func TestTheTypeIsTheCodesEntryInTheErrorsGuide(t *testing.T) {
	t.Parallel()
	d := problem.New(http.StatusForbidden, "ip_not_allowed", "Client address not allowed", "", "req_1")
	assert.Equal(t, "https://steller.dev/docs/errors#ip_not_allowed", d.Type)
	assert.Equal(t, d.Type, problem.TypeURL("ip_not_allowed"))
}

// README.md's "Problem codes" table has one row per registered code, with its status, and
// no row for a code that is not registered.
func TestTheReadmeTableListsEveryCode(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(raw), "\n### Problem codes\n")
	require.True(t, ok, "README.md has a Problem codes section")
	section, _, _ = strings.Cut(section, "\n## ")
	assert.Contains(t, section, "`"+problem.TypeBase+"<code>`", "the section names the type URL")
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\| ([0-9]{3}) \\|")
	rows := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		status, _ := strconv.Atoi(m[2])
		assert.NotContains(t, rows, m[1], "%s has two rows", m[1])
		rows[m[1]] = status
	}
	for _, c := range problem.Codes() {
		if assert.Contains(t, rows, c.Name, "README.md's problem table has no row for %s", c.Name) {
			assert.Equal(t, c.Status, rows[c.Name], "README.md's status of %s", c.Name)
		}
		delete(rows, c.Name)
	}
	assert.Empty(t, rows, "README.md lists codes contract/problem does not register")
}
