package portal

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// guideFiles are the guides and the sample programs they include (::include lines).
//
//go:embed guides/*.md guides/samples
var guideFiles embed.FS

// Guide is one rendered Markdown guide.
type Guide struct {
	// Slug is its path under /docs/.
	Slug string
	// Title is its first heading.
	Title string
	// Summary is one line for the docs index and the page's description.
	Summary string
	// HTML is the rendered guide (goldmark, GitHub Flavored Markdown, raw HTML left out).
	HTML template.HTML
	// Sections are its text by heading, for search.
	Sections []Section
}

// Section is the text under one heading of a guide.
type Section struct {
	// Heading is the heading's text ("" for the text before the first heading).
	Heading string
	// Anchor is the heading's id in the page.
	Anchor string
	// Text is the section's words, headings and code included.
	Text string
}

// guideList is the guides in reading order.
var guideList = []struct{ slug, summary string }{
	{"quickstart", "From signup to your first sandbox order and its webhook, in ten minutes."},
	{"authentication", "Test and live keys, roles, IP allowlists, rolling and revoking, team roles."},
	{"sandbox", "The sandbox vendor: catalog, fake USD, order lifecycle, card codes and magic values."},
	{"idempotency", "Retrying safely with Idempotency-Key."},
	{"webhooks", "Signed order events: endpoints, retries and verifying signatures."},
	{"going-live", "Live access, the review and its readiness report, the first live order."},
	{"errors", "Every problem code: its status, what it means, why it happens and how to fix it."},
	{"changelog", "What changed, and how the API is versioned."},
}

// markdown renders the guides: tables and autolinks (GFM), an id on every heading (or the
// one a heading names with {#id}, for anchors the API links to).
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
	goldmark.WithParserOptions(parser.WithAutoHeadingID(), parser.WithHeadingAttribute()),
)

// loadGuides renders every guide of guideList.
func loadGuides() ([]*Guide, error) {
	out := make([]*Guide, 0, len(guideList))
	for _, entry := range guideList {
		src, err := guideFiles.ReadFile("guides/" + entry.slug + ".md")
		if err != nil {
			return nil, fmt.Errorf("portal: guide %s: %w", entry.slug, err)
		}
		if src, err = expandIncludes(entry.slug, src, guideFiles, "guides"); err != nil {
			return nil, err
		}
		g, err := renderGuide(entry.slug, entry.summary, src)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// includeLine is a line that shows a file as a code block: `::include{file="samples/x.go"}`
// (the form of a leaf directive in the CommonMark generic directives proposal), the path
// relative to the guides folder.
var includeLine = regexp.MustCompile(`^::include\{file="([^"]+)"\}$`)

// includeLanguages names the code block language of an included file by its extension.
var includeLanguages = map[string]string{".go": "go", ".py": "python", ".js": "javascript", ".sh": "bash"}

// expandIncludes replaces each ::include line of a guide with a fenced code block holding
// the named file of dir in fsys, byte for byte, so the code a guide shows is the code its
// tests run. The fence is longer than any run of backticks in the file. A line starting
// with ::include that does not match, or a file that does not exist, is an error.
func expandIncludes(slug string, src []byte, fsys fs.FS, dir string) ([]byte, error) {
	var out bytes.Buffer
	for line := range bytes.Lines(src) {
		text := strings.TrimRight(string(line), "\r\n")
		if !strings.HasPrefix(text, "::include") {
			out.Write(line)
			continue
		}
		m := includeLine.FindStringSubmatch(text)
		if m == nil {
			return nil, fmt.Errorf("portal: guide %s: %q is not ::include{file=\"path\"}", slug, text)
		}
		lang, ok := includeLanguages[path.Ext(m[1])]
		if !ok {
			return nil, fmt.Errorf("portal: guide %s: no code language for %s", slug, m[1])
		}
		code, err := fs.ReadFile(fsys, path.Join(dir, m[1]))
		if err != nil {
			return nil, fmt.Errorf("portal: guide %s: include: %w", slug, err)
		}
		fence := strings.Repeat("`", max(3, longestRun(code, '`')+1))
		out.WriteString(fence + lang + "\n")
		out.Write(code)
		if !bytes.HasSuffix(code, []byte("\n")) {
			out.WriteByte('\n')
		}
		out.WriteString(fence + "\n")
	}
	return out.Bytes(), nil
}

// longestRun is the length of the longest run of c in b.
func longestRun(b []byte, c byte) int {
	longest, n := 0, 0
	for _, x := range b {
		if x != c {
			n = 0
			continue
		}
		n++
		longest = max(longest, n)
	}
	return longest
}

// renderGuide renders one guide and splits its text into sections. The first heading must
// be the title (level 1).
func renderGuide(slug, summary string, src []byte) (*Guide, error) {
	doc := markdown.Parser().Parse(text.NewReader(src))
	g := &Guide{Slug: slug, Summary: summary}
	var current *Section
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			heading := string(plainText(n, src))
			if g.Title == "" {
				if n.Level != 1 {
					return ast.WalkStop, fmt.Errorf("portal: guide %s must start with a level-1 heading", slug)
				}
				g.Title = heading
			}
			anchor, _ := n.AttributeString("id")
			id, _ := anchor.([]byte)
			g.Sections = append(g.Sections, Section{Heading: heading, Anchor: string(id)})
			current = &g.Sections[len(g.Sections)-1]
			return ast.WalkSkipChildren, nil
		case *ast.Text, *ast.String, *ast.CodeSpan:
			appendText(current, g, plainText(n, src))
			return ast.WalkSkipChildren, nil
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			lines := n.Lines()
			for i := range lines.Len() {
				seg := lines.At(i)
				appendText(current, g, seg.Value(src))
			}
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		return nil, err
	}
	if g.Title == "" {
		return nil, fmt.Errorf("portal: guide %s has no title", slug)
	}
	var b bytes.Buffer
	if err := markdown.Renderer().Render(&b, src, doc); err != nil {
		return nil, fmt.Errorf("portal: render guide %s: %w", slug, err)
	}
	g.HTML = template.HTML(b.String())
	return g, nil
}

// appendText adds words to the current section (or a leading one).
func appendText(current *Section, g *Guide, words []byte) {
	if current == nil {
		g.Sections = append(g.Sections, Section{})
		current = &g.Sections[len(g.Sections)-1]
	}
	if current.Text != "" {
		current.Text += " "
	}
	current.Text += strings.TrimSpace(string(words))
}

// plainText is the text of an inline node and its children.
func plainText(n ast.Node, src []byte) []byte {
	switch n := n.(type) {
	case *ast.Text:
		return n.Segment.Value(src)
	case *ast.String:
		return n.Value
	}
	var b bytes.Buffer
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		b.Write(plainText(c, src))
	}
	return b.Bytes()
}

// Result is one section that matches a search.
type Result struct {
	Slug, Guide, Heading, Anchor string
	// Snippet is the text around the first match.
	Snippet string
	score   int
}

// Search finds the sections of guides that contain every word of q (case-insensitive,
// prefixes of words count), the sections whose heading matches first, then by how often
// the words occur, then in reading order.
func Search(guides []*Guide, q string) []Result {
	terms := words(q)
	if len(terms) == 0 {
		return nil
	}
	var out []Result
	for _, g := range guides {
		for _, s := range g.Sections {
			body, head := words(s.Text), words(s.Heading+" "+g.Title)
			score := 0
			for _, t := range terms {
				n := countPrefix(body, t) + countPrefix(head, t)
				if n == 0 {
					score = -1
					break
				}
				score += n + 10*countPrefix(head, t)
			}
			if score < 0 {
				continue
			}
			out = append(out, Result{Slug: g.Slug, Guide: g.Title, Heading: s.Heading, Anchor: s.Anchor,
				Snippet: snippet(s.Text, terms[0]), score: score})
		}
	}
	slices.SortStableFunc(out, func(a, b Result) int { return b.score - a.score })
	return out
}

// words splits s into lower-case words of letters, digits and underscores.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
	})
}

func countPrefix(ws []string, prefix string) int {
	n := 0
	for _, w := range ws {
		if strings.HasPrefix(w, prefix) {
			n++
		}
	}
	return n
}

// snippet is up to about 160 characters of text around the first occurrence of term.
func snippet(s, term string) string {
	const width = 160
	i := strings.Index(strings.ToLower(s), term)
	if i < 0 {
		i = 0
	}
	start := max(0, i-width/3)
	for start > 0 && s[start] != ' ' {
		start--
	}
	end := min(len(s), start+width)
	for end < len(s) && s[end] != ' ' {
		end++
	}
	out := strings.TrimSpace(s[start:end])
	if start > 0 {
		out = "…" + out
	}
	if end < len(s) {
		out += "…"
	}
	return out
}
