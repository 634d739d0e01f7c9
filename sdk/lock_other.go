//go:build !unix

package sdk

import "os"

// tryLock on systems without flock: an exclusive create. A lane left by a
// crash keeps its lock file; remove it by hand (docs/sdk.md).
func tryLock(path string) (*os.File, bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if os.IsExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return f, true, nil
}

func unlock(f *os.File) {
	name := f.Name()
	f.Close()
	os.Remove(name)
}
