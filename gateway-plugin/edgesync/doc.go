// Package edgesync owns the edge's side of edge sync (the protocol is contract/edgewire): an
// in-memory key table that lookups read without locks, a client that keeps it current from
// the control plane's snapshot and change feed (and keeps serving the last good state, from
// memory and from disk, when the control plane is down), and a static file source for local
// runs.
package edgesync
