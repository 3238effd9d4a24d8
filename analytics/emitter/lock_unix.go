//go:build unix

package emitter

import (
	"os"
	"syscall"
)

// lockDir takes an exclusive, non-blocking flock on path; the lock dies with the process,
// so a crashed emitter never leaves its spool locked.
func lockDir(path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f.Close, nil
}
