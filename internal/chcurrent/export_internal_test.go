package chcurrent

import "testing"

// NewSessionWith is newSession for the external tests: New with the way to start given.
func NewSessionWith(t testing.TB, start func() (*Session, error)) *Session {
	t.Helper()
	return newSession(t, start)
}

// StartIn is startIn for the external tests.
var StartIn = startIn
