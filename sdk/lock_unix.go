//go:build unix

package sdk

import (
	"os"
	"syscall"
)

// tryLock takes an exclusive, non-blocking lock on path (created). The
// lock goes with the process: a crashed agent leaves its lane free.
func tryLock(path string) (*os.File, bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, false, nil
		}
		return nil, false, err
	}
	return f, true, nil
}

func unlock(f *os.File) { f.Close() }
