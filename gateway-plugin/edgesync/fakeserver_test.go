package edgesync_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/steller/platform/contract/edgewire"
)

// fakeControlPlane serves the edge sync protocol from memory, as the control plane will.
type fakeControlPlane struct {
	t      *testing.T
	token  string
	mu     sync.Mutex
	snap   edgewire.Snapshot
	log    []edgewire.Change // changes after snap.Version... kept from oldest
	oldest uint64            // changes with version <= oldest are no longer held
	down   bool
	notify chan struct{}
	polls  int
	snaps  int
}

func newFakeControlPlane(t *testing.T, snap edgewire.Snapshot) (*fakeControlPlane, *httptest.Server) {
	f := &fakeControlPlane{t: t, token: "edge-token", snap: snap, oldest: snap.Version, notify: make(chan struct{})}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// publish appends a change, folds it into the snapshot, and wakes long-polls.
func (f *fakeControlPlane) publish(c edgewire.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, c)
	f.snap.Version = c.Version
	switch c.Type {
	case edgewire.KeyUpsert:
		replaced := false
		for i, k := range f.snap.Keys {
			if k.Hash == c.Key.Hash {
				f.snap.Keys[i], replaced = *c.Key, true
			}
		}
		if !replaced {
			f.snap.Keys = append(f.snap.Keys, *c.Key)
		}
	case edgewire.PartnerUpsert:
		f.snap.Partners = append(f.snap.Partners, *c.Partner)
	}
	close(f.notify)
	f.notify = make(chan struct{})
}

// compact forgets changes up to version, so older since values get 410.
func (f *fakeControlPlane) compact(version uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.oldest = version
	kept := f.log[:0]
	for _, c := range f.log {
		if c.Version > version {
			kept = append(kept, c)
		}
	}
	f.log = kept
}

func (f *fakeControlPlane) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeControlPlane) snapshotCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snaps
}

func (f *fakeControlPlane) pollCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.polls
}

func (f *fakeControlPlane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case edgewire.SnapshotPath:
		f.mu.Lock()
		f.snaps++
		raw, _ := json.Marshal(f.snap)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(raw)
	case edgewire.ChangesPath:
		f.changes(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeControlPlane) changes(w http.ResponseWriter, r *http.Request) {
	since, err := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
	if err != nil {
		http.Error(w, "bad since", http.StatusBadRequest)
		return
	}
	wait, err := time.ParseDuration(r.URL.Query().Get("wait"))
	if err != nil {
		http.Error(w, "bad wait", http.StatusBadRequest)
		return
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		f.mu.Lock()
		f.polls++
		if since < f.oldest || since > f.snap.Version {
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusGone)
			_, _ = w.Write([]byte(`{"status":410,"code":"` + edgewire.ResyncCode + `"}`))
			return
		}
		out := edgewire.Changes{Version: since, Changes: []edgewire.Change{}}
		for _, c := range f.log {
			if c.Version > since {
				out.Changes = append(out.Changes, c)
				out.Version = c.Version
			}
		}
		notify := f.notify
		f.mu.Unlock()
		if len(out.Changes) > 0 {
			_ = json.NewEncoder(w).Encode(out)
			return
		}
		select {
		case <-notify:
			continue
		case <-timer.C:
			_ = json.NewEncoder(w).Encode(out)
			return
		case <-r.Context().Done():
			return
		}
	}
}
