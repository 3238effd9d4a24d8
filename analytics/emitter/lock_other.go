//go:build !unix

package emitter

// lockDir is a no-op where flock is not available: one emitter per spool directory is then
// the operator's job.
func lockDir(string) (unlock func() error, err error) {
	return func() error { return nil }, nil
}
