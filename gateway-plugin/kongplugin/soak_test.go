package kongplugin_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/steller/platform/internal/kongstandin"
)

// Soak parameters: requests before the baseline is read (two replacements in), requests
// between two config replacements (one window), requests between two RSS samples, and the
// band.
//
// The plugin server is a garbage-collected process: between two collections its heap
// grows to about twice what is live, and the runtime returns freed pages to the system
// only gradually, so single RSS samples move with the collector's cycle (55 to 71 MiB
// around a 64 MiB warm-up in a run here) whether or not memory leaks. What a leak moves
// is the envelope, so the soak judges each window's peak: RSS is sampled every
// soakSampleEvery requests, and the highest sample of every window after the warm-up
// must lie within ±10% of the highest sample of the warm-up's last window. A window runs
// between two replacements, so each sees the same cycle of builds and releases.
const (
	soakWarmup       = 2 * soakReplaceEvery
	soakReplaceEvery = 50_000
	soakSampleEvery  = 1_000
	soakTolerance    = 0.10
)

// BenchmarkPluginServerRSS is the memory soak of Kong/kong#8508: it runs the decision
// table's requests (allowed and denied, access then log) through the compiled plugin under
// the Kong stand-in, and every soakReplaceEvery requests replaces the plugin instance's
// config with new settings as a Kong config change does (a new instance, the old one
// closed), so each replaced config's edge must be released for memory to stay flat. It
// fails if the peak RSS of a window after the warm-up leaves ±10% of the warm-up's (see
// the constants), or if the edges of replaced configs were not released. Run it for a
// million requests with
//
//	go test -run '^$' -bench PluginServerRSS -benchtime 1000000x -timeout 40m ./gateway-plugin/kongplugin/
func BenchmarkPluginServerRSS(b *testing.B) {
	released := &lineCounter{substr: "configuration released"}
	env := startStandin(b, slog.New(released))
	ctx := context.Background()
	pid := env.srv.Pid()
	cases := env.fx.Cases()
	plugin, err := env.srv.NewPlugin("steller-edge", env.soakConfig(b, 0))
	if err != nil {
		b.Fatal(err)
	}
	replacements, served := 0, 0
	var peaks []int64      // each finished window's highest sample
	var peak, lo, hi int64 // the current window's peak; every sample's range after the warm-up
	serve := func() {
		c := cases[served%len(cases)]
		req := scripted(c)
		access, err := plugin.RunPhase(ctx, "access", req)
		if err != nil {
			b.Fatalf("request %d (%s), access: %v", served, c.Name, err)
		}
		if status := outcome(access); status != c.Want.Status {
			b.Fatalf("request %d (%s): status %d, want %d", served, c.Name, status, c.Want.Status)
		}
		if _, err := plugin.RunPhase(ctx, "log", req); err != nil {
			b.Fatalf("request %d (%s), log: %v", served, c.Name, err)
		}
		served++
		if served%soakSampleEvery == 0 {
			rss := vmRSS(b, pid)
			peak = max(peak, rss)
			if served > soakWarmup {
				if lo == 0 {
					lo = rss
				}
				lo, hi = min(lo, rss), max(hi, rss)
			}
		}
		if served%soakReplaceEvery == 0 {
			peaks, peak = append(peaks, peak), 0
			replacements++
			if err := plugin.Replace(ctx, env.soakConfig(b, replacements)); err != nil {
				b.Fatalf("replace config %d: %v", replacements, err)
			}
		}
	}

	for range soakWarmup {
		serve()
	}
	warmWindows := len(peaks)
	warm := peaks[warmWindows-1]
	for b.Loop() {
		serve()
	}
	after := peaks[warmWindows:]
	if len(after) == 0 {
		b.Fatalf("no full window after the warm-up: run at least %d requests", soakReplaceEvery)
	}
	low, high := slices.Min(after), slices.Max(after)

	mib := func(kib int64) float64 { return float64(kib) / 1024 }
	b.ReportMetric(mib(warm), "peak-warm-MiB")
	b.ReportMetric(float64(low)/float64(warm), "peak-min/warm")
	b.ReportMetric(float64(high)/float64(warm), "peak-max/warm")
	b.ReportMetric(float64(after[len(after)-1])/float64(warm), "peak-last/warm")
	b.ReportMetric(float64(lo)/float64(warm), "sample-min/warm")
	b.ReportMetric(float64(hi)/float64(warm), "sample-max/warm")
	b.ReportMetric(float64(replacements), "configs-replaced")
	b.ReportMetric(float64(released.n.Load()), "edges-released")
	b.Logf("%d requests after a warm-up of %d: window peaks %d to %d KiB against the warm-up's %d (last %d); samples %d to %d KiB; %d configs replaced, %d edges released",
		served-soakWarmup, soakWarmup, low, high, warm, after[len(after)-1], lo, hi, replacements, released.n.Load())
	if want := int64(replacements) - 1; released.n.Load() < want {
		b.Errorf("%d edges released after %d replacements, want at least %d", released.n.Load(), replacements, want)
	}
	if float64(low) < float64(warm)*(1-soakTolerance) || float64(high) > float64(warm)*(1+soakTolerance) {
		b.Errorf("a window's peak VmRSS left ±%.0f%% of the warm-up's %d KiB: %d to %d KiB", soakTolerance*100, warm, low, high)
	}
}

// soakConfig is the n-th config of the soak's plugin entity. Each has settings of its own,
// so each gets an edge of its own: snapshot_path differs, which a keys_file configuration
// does not use.
func (env *standinEnv) soakConfig(b *testing.B, n int) []byte {
	return env.config(b, map[string]any{"snapshot_path": filepath.Join(env.dir, "unused-snapshot-"+strconv.Itoa(n))})
}

// outcome is the status the client gets: the exit's, or the upstream's 200.
func outcome(access *kongstandin.PhaseResult) int {
	if access.Exit != nil {
		return access.Exit.Status
	}
	return http.StatusOK
}

// vmRSS reads a process's resident set size in KiB from /proc/<pid>/status.
func vmRSS(b *testing.B, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("VmRSS line %q: %v", sc.Text(), err)
			}
			return kib
		}
	}
	b.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// lineCounter is a slog handler that counts the plugin server output lines containing
// substr (the stand-in logs each line as the "line" attribute) and discards everything.
type lineCounter struct {
	substr string
	n      atomic.Int64
}

func (*lineCounter) Enabled(context.Context, slog.Level) bool { return true }

func (h *lineCounter) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "line" && strings.Contains(a.Value.String(), h.substr) {
			h.n.Add(1)
		}
		return true
	})
	return nil
}

func (h *lineCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *lineCounter) WithGroup(string) slog.Handler      { return h }
