// Package browser runs the portal's browser tests in real Chromium: Debian's chromium
// (installed by scripts/install.sh browser), headless, driven over the DevTools protocol
// with chromedp, with the flags a closed network needs. A Page records what a reviewer
// would look for: console errors, uncaught exceptions, Content-Security-Policy violations
// and every request to another origin, and, asked with Accessibility, axe-core's serious
// and critical violations. A missing Chromium or axe-core fails the test; it never skips.
package browser

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// ExecPath is Chromium's binary as Debian installs it.
const ExecPath = "/usr/bin/chromium"

// ScreenshotDirEnv names a directory to keep screenshots in (for looking at them); when it
// is unset they go to the test's temporary directory.
const ScreenshotDirEnv = "STELLER_SCREENSHOT_DIR"

// Page is one browser tab and what it saw.
type Page struct {
	// Ctx runs chromedp actions in the tab.
	Ctx    context.Context
	t      testing.TB
	origin string

	mu       sync.Mutex
	problems []string
	foreign  []string
	watchers sync.WaitGroup
}

// Open starts headless Chromium (one per call; closed when the test ends) and returns a
// tab that treats origin (scheme://host:port) as its own.
func Open(t testing.TB, origin string) *Page {
	t.Helper()
	if _, err := exec.LookPath(ExecPath); err != nil {
		t.Fatalf("browser: %s not found: install it with `bash scripts/install.sh browser` (make test does)", ExecPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ExecPath),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	p := &Page{Ctx: ctx, t: t, origin: strings.TrimRight(origin, "/")}
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc(); p.watchers.Wait() })

	if err := chromedp.Do(ctx); err != nil { // starts the browser and its first tab
		t.Fatalf("browser: start Chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	p.watchers.Add(2)
	go func() {
		defer p.watchers.Done()
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.Type == chromedp.ConsoleException ||
				m.Source == "security" {
				p.record(&p.problems, fmt.Sprintf("%s %s: %s (%s)", m.Source, m.Type, m.Text, m.URL))
			}
		}
	}()
	go func() {
		defer p.watchers.Done()
		for ev, err := range requests {
			if err != nil {
				return
			}
			u, perr := url.Parse(ev.Request.URL)
			if perr == nil && (u.Scheme == "data" || u.Scheme+"://"+u.Host == p.origin) {
				continue
			}
			p.record(&p.foreign, ev.Request.URL)
		}
	}()
	return p
}

func (p *Page) record(list *[]string, s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	*list = append(*list, s)
}

// Do runs actions in the tab, failing the test on an error.
func (p *Page) Do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.Ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

// Get runs one action in p's tab and returns its value, failing the test on an error.
func Get[T any](p *Page, action chromedp.Action[T]) T {
	p.t.Helper()
	v, err := chromedp.Run(p.Ctx, action)
	if err != nil {
		p.t.Fatalf("browser: %v", err)
	}
	return v
}

// Visit loads path of the origin and waits until the document's main landmark is visible.
func (p *Page) Visit(path string) {
	p.t.Helper()
	p.Do(chromedp.Navigate(p.origin+path), chromedp.WaitVisible(chromedp.CSS("main")))
}

// Screenshot saves a full-page PNG named name and returns its path.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	png := Get(p, chromedp.FullScreenshot(100))
	dir := os.Getenv(ScreenshotDirEnv)
	if dir == "" {
		dir = p.t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
	return path
}

// Problems are the console errors and warnings, exceptions and security (CSP) messages so far.
func (p *Page) Problems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.problems...)
}

// Foreign are the requests the tab made to any other origin so far.
func (p *Page) Foreign() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.foreign...)
}
