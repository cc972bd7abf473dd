//go:build !unix

package store

import "os"

// tryLock always succeeds: no OS lock is taken on this platform.
func tryLock(*os.File) (bool, error) { return true, nil }

// statIdentity cannot tell files apart on this platform: it checks only
// that path exists.
func statIdentity(path string) (fileIdentity, error) {
	_, err := os.Stat(path)
	return fileIdentity{}, err
}

// freeBytes is unknown on this platform: it reports plenty.
func freeBytes(string) (int64, error) { return 1 << 62, nil }
