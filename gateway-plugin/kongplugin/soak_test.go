package kongplugin_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/steller/platform/internal/kongstandin"
)

// Soak parameters: requests before the baseline is read, requests between two config
// replacements, and requests between two RSS samples.
const (
	soakWarmup       = 60_000
	soakReplaceEvery = 20_000
	soakSampleEvery  = 10_000
	soakTolerance    = 0.10
)

// BenchmarkPluginServerRSS is the memory soak of Kong/kong#8508: it runs the decision
// table's requests (allowed and denied, access then log) through the compiled plugin under
// the Kong stand-in, and every soakReplaceEvery requests replaces the plugin instance's
// config with new settings as a Kong config change does (a new instance, the old one
// closed), so each replaced config's edge must be released for memory to stay flat. It
// reads the plugin server's VmRSS after a warm-up of soakWarmup requests and every
// soakSampleEvery requests after it, and fails if a sample is more than 10% away from the
// warm-up figure. Run it for a million requests with
//
//	go test -run '^$' -bench PluginServerRSS -benchtime 1000000x ./gateway-plugin/kongplugin/
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
	replacements := 0
	served := 0
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
		if served%soakReplaceEvery == 0 {
			replacements++
			if err := plugin.Replace(ctx, env.soakConfig(b, replacements)); err != nil {
				b.Fatalf("replace config %d: %v", replacements, err)
			}
		}
	}

	for range soakWarmup {
		serve()
	}
	warm := vmRSS(b, pid)
	lo, hi := warm, warm
	for b.Loop() {
		serve()
		if served%soakSampleEvery == 0 {
			rss := vmRSS(b, pid)
			lo, hi = min(lo, rss), max(hi, rss)
		}
	}
	end := vmRSS(b, pid)
	lo, hi = min(lo, end), max(hi, end)

	mib := func(kib int64) float64 { return float64(kib) / 1024 }
	b.ReportMetric(mib(warm), "rss-warm-MiB")
	b.ReportMetric(mib(end), "rss-end-MiB")
	b.ReportMetric(float64(end)/float64(warm), "rss-end/warm")
	b.ReportMetric(float64(lo)/float64(warm), "rss-min/warm")
	b.ReportMetric(float64(hi)/float64(warm), "rss-max/warm")
	b.ReportMetric(float64(replacements), "configs-replaced")
	b.ReportMetric(float64(released.n.Load()), "edges-released")
	b.Logf("%d requests after a warm-up of %d: VmRSS %d KiB at warm-up, %d KiB at the end (min %d, max %d); %d configs replaced, %d edges released",
		served-soakWarmup, soakWarmup, warm, end, lo, hi, replacements, released.n.Load())
	if float64(lo) < float64(warm)*(1-soakTolerance) || float64(hi) > float64(warm)*(1+soakTolerance) {
		b.Errorf("VmRSS left ±%.0f%% of the warm-up's %d KiB: min %d, max %d KiB", soakTolerance*100, warm, lo, hi)
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
