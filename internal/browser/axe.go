package browser

import (
	"os"
	"path/filepath"
	"sync"

	"github.com/chromedp/chromedp"
)

// axeScript is axe-core's browser bundle, read once from node_modules (npm, pinned by
// package-lock.json as a dev dependency; scripts/install.sh web installs it).
var axeScript = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return os.ReadFile(filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, os.ErrNotExist
		}
		dir = parent
	}
})

// axeRun runs axe-core on the document and answers its serious and critical violations,
// one line each: the rule, its impact, what it asks and up to three elements.
const axeRun = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' +
    v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))`

// Accessibility runs axe-core (the accessibility engine, injected through the DevTools
// protocol, so the page's Content-Security-Policy is untouched) on the page as it is now,
// and returns its serious and critical violations; none is the bar. A missing axe-core
// fails the test.
func (p *Page) Accessibility() []string {
	p.t.Helper()
	script, err := axeScript()
	if err != nil {
		p.t.Fatalf("browser: axe-core not found in node_modules (install it with `bash scripts/install.sh web`, make test does): %v", err)
	}
	// A navigation drops what was injected: inject on every call.
	Get(p, chromedp.Evaluate[bool](string(script)+"\n;true"))
	return Get(p, chromedp.Evaluate[[]string](axeRun, chromedp.EvalAwaitPromise))
}
