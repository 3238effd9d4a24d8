package portal

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIncludeLinesBecomeCodeBlocksOfTheFile(t *testing.T) {
	t.Parallel()
	files := fstest.MapFS{
		"g/a.py":      {Data: []byte("print('hi')\n")},
		"g/fence.sh":  {Data: []byte("echo '````'")}, // four backticks and no final newline
		"g/notes.txt": {Data: []byte("text")},
	}
	got, err := expandIncludes("t", []byte("# T\n\n::include{file=\"a.py\"}\nafter\n::include{file=\"fence.sh\"}\r\n"), files, "g")
	require.NoError(t, err)
	assert.Equal(t, "# T\n\n```python\nprint('hi')\n```\nafter\n`````bash\necho '````'\n`````\n", string(got))

	for _, c := range []struct{ name, src, err string }{
		{"a missing file", `::include{file="nope.go"}`, "nope.go"},
		{"a misspelt directive", `::include{file=a.py}`, "is not ::include"},
		{"an unknown language", `::include{file="notes.txt"}`, "no code language"},
	} {
		_, err := expandIncludes("t", []byte(c.src+"\n"), files, "g")
		assert.ErrorContains(t, err, c.err, c.name)
	}
}
