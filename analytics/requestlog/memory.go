package requestlog

import (
	"slices"
	"sync"
)

// Memory is an Emitter that keeps events in memory, for tests. It never blocks for longer
// than a mutex hold.
type Memory struct {
	mu     sync.Mutex
	events []Event
}

// Emit records e.
func (m *Memory) Emit(e Event) {
	m.mu.Lock()
	m.events = append(m.events, e)
	m.mu.Unlock()
}

// Events returns a copy of the recorded events in emission order.
func (m *Memory) Events() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.events)
}

// Find returns the last event with the given request id.
func (m *Memory) Find(requestID string) (Event, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.events) - 1; i >= 0; i-- {
		if m.events[i].RequestID == requestID {
			return m.events[i], true
		}
	}
	return Event{}, false
}

// Len returns how many events were recorded.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.events)
}
