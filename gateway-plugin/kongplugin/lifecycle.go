package kongplugin

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/gateway-plugin/edge"
)

// How an edge lives and ends.
//
// Kong starts a plugin instance per plugin entity and config version (and per nginx
// worker), and on every config change starts new instances and closes the old ones. go-pdk
// v0.11.0 decodes a new Config value for each StartInstance, and on CloseInstance only drops
// its reference ("garbage collected after the last reference event finishes"); it also drops
// every instance started more than 60 s earlier, which Kong then starts again. It never tells
// the Config. So the one sure sign that a Config will serve no more requests is that it is
// unreachable, and an edge is released by counting references:
//
//   - every Config value bound to the edge holds one, dropped by a runtime cleanup when
//     go-pdk has let go of the Config and the garbage collector found it unreachable;
//   - every phase running on the edge counts itself for its duration (enter/leave);
//   - an allowed request waiting for its log phase keeps its entry in the pending table.
//
// When no Config holds the edge, a release check runs after Deps.ReleaseAfter: if a Config
// bound it again meanwhile (go-pdk restarted an instance with the same settings) nothing
// happens; if phases run or requests await their log phase (for at most the pending table's
// maximum age), it looks again later; otherwise the edge is closed: its context ends, its
// background goroutines are waited for, its emitter hands its queue to Kafka or the spool,
// and its HTTP connections are closed. A Config arriving while the edge closes waits for the
// close, then builds a fresh edge. A failed build closes what it opened before it returns
// and starts nothing, so it leaves no goroutine behind.

// sharedEdge is the edge built for one configuration, shared by every Config value with the
// same settings.
type sharedEdge struct {
	key     string
	log     *slog.Logger
	core    *edge.Core
	emitter requestlog.Emitter
	pending *pending
	sandbox upstreamTarget
	live    upstreamTarget

	ctx     context.Context // ends when the edge closes
	cancel  context.CancelFunc
	runs    []func(context.Context) error // background work, started once the build succeeded
	wg      sync.WaitGroup                // the running background work
	http    *http.Client                  // for the control plane, created on first use
	closers []func()                      // run in reverse order on close, after the work ended

	phases atomic.Int64 // phases running on the edge

	// Guarded by Plugin.mu.
	configs int           // Config values bound to the edge
	timer   *time.Timer   // the scheduled release check, if any
	closing bool          // released or the Plugin closed; no Config binds it any more
	done    chan struct{} // closed once the edge is closed
}

// upstreamTarget is an upstream as kong.service.set_target takes it.
type upstreamTarget struct {
	host string
	port int
}

// binding ties one Config value to its edge. The Config's cleanup releases it, once.
type binding struct {
	edge     *sharedEdge
	released atomic.Bool
}

func (p *Plugin) newEdge(c *Config) *sharedEdge {
	ctx, cancel := context.WithCancel(p.ctx)
	return &sharedEdge{
		key:     c.key,
		log:     p.deps.Logger.With("config", c.key[:12]),
		pending: newPending(p.deps.MaxPending, 5*time.Minute),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
	}
}

// start runs the edge's background work until the edge closes.
func (e *sharedEdge) start() {
	for _, run := range e.runs {
		e.wg.Go(func() { _ = run(e.ctx) })
	}
}

// close ends the background work, waits for it, then closes the emitter and connections.
func (e *sharedEdge) close() {
	e.cancel()
	e.wg.Wait()
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// enter returns c's edge for one phase, binding c to it on its first phase (and building
// the edge if no Config with these settings has one); e.leave must follow when the phase
// ends.
func (p *Plugin) enter(c *Config) (*sharedEdge, error) {
	b := c.bound.Load()
	if b == nil {
		var err error
		if b, err = p.bind(c); err != nil {
			return nil, err
		}
	}
	b.edge.phases.Add(1)
	// c's own reference holds the edge until the phase counts itself: without this, c could
	// be found unreachable between its last use above and the count.
	runtime.KeepAlive(c)
	return b.edge, nil
}

// leave ends a phase that enter began.
func (e *sharedEdge) leave() { e.phases.Add(-1) }

// bind ties c to the edge of its settings.
func (p *Plugin) bind(c *Config) (*binding, error) {
	c.init()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if b := c.bound.Load(); b != nil {
			return b, nil // another phase of c bound it meanwhile
		}
		if p.closed {
			return nil, errClosed
		}
		e := p.edges[c.key]
		if e != nil && e.closing {
			// Released a moment ago and still closing (its emitter flushing, its spool
			// locked): build afresh once it is closed.
			p.mu.Unlock()
			<-e.done
			p.mu.Lock()
			continue
		}
		if e == nil {
			var err error
			if e, err = p.buildLocked(c); err != nil {
				return nil, err
			}
		}
		e.configs++
		if e.timer != nil {
			e.timer.Stop()
			e.timer = nil
		}
		b := &binding{edge: e}
		c.bound.Store(b)
		runtime.AddCleanup(c, p.unbind, b)
		return b, nil
	}
}

// unbind drops a Config's reference to its edge; the runtime calls it once the Config is
// unreachable.
func (p *Plugin) unbind(b *binding) {
	if !b.released.CompareAndSwap(false, true) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e := b.edge
	e.configs--
	if e.configs == 0 {
		p.scheduleReleaseLocked(e)
	}
}

// scheduleReleaseLocked arranges a release check of an edge no Config uses. p.mu is held.
func (p *Plugin) scheduleReleaseLocked(e *sharedEdge) {
	if e.closing || e.timer != nil {
		return
	}
	e.timer = time.AfterFunc(p.deps.ReleaseAfter, func() { p.releaseIfUnused(e) })
}

// releaseIfUnused closes e if no Config uses it, no phase runs on it and no request awaits
// its log phase on it; while only phases or requests hold it, it checks again later.
func (p *Plugin) releaseIfUnused(e *sharedEdge) {
	p.mu.Lock()
	// A check that fired while bind stopped it, or a second one, finds configs > 0 or
	// closing and does nothing.
	e.timer = nil
	if e.closing || e.configs > 0 {
		p.mu.Unlock()
		return
	}
	if e.phases.Load() > 0 || e.pending.expire(p.deps.Clock()) > 0 {
		p.scheduleReleaseLocked(e)
		p.mu.Unlock()
		return
	}
	e.closing = true
	p.mu.Unlock()

	e.close()
	e.log.Info("steller-edge: configuration released; no plugin instance uses it")
	p.mu.Lock()
	if p.edges[e.key] == e {
		delete(p.edges, e.key)
	}
	p.released++
	p.mu.Unlock()
	close(e.done)
}

// Close closes every edge: their background work ends, and their emitters hand what they
// queued to Kafka or the spool. Phases that arrive afterwards are answered with a 500.
func (p *Plugin) Close() {
	p.mu.Lock()
	p.closed = true
	p.cancel()
	var closing, waiting []*sharedEdge
	for _, e := range p.edges {
		if e.timer != nil {
			e.timer.Stop()
			e.timer = nil
		}
		if e.closing {
			waiting = append(waiting, e) // being released already
			continue
		}
		e.closing = true
		closing = append(closing, e)
	}
	p.mu.Unlock()

	var wg sync.WaitGroup
	for _, e := range closing {
		wg.Go(func() {
			e.close()
			p.mu.Lock()
			delete(p.edges, e.key)
			p.mu.Unlock()
			close(e.done)
		})
	}
	wg.Wait()
	for _, e := range waiting {
		<-e.done
	}
}

// Stats describes the plugin server's edges.
type Stats struct {
	// Edges is the number of open edges, in use or waiting for release.
	Edges int
	// Unused is how many of them no Config uses any more.
	Unused int
	// Released counts the edges closed because no Config used them any more.
	Released uint64
}

// Stats returns the current Stats.
func (p *Plugin) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Edges: len(p.edges), Released: p.released}
	for _, e := range p.edges {
		if e.configs == 0 {
			s.Unused++
		}
	}
	return s
}
