//go:build unix

package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir takes an exclusive lock on dir/serve.lock for as long as the
// process runs (the kernel drops it when the process ends, however it ends),
// so that two servers never share one SQLite database: each would keep its own
// caches and its own refresh locks. Maintenance commands do not take it; they
// may run beside the server (SQLite's own locking orders their writes).
func lockDataDir(dir string) (release func(), err error) {
	path := filepath.Join(dir, "serve.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data folder lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another actiongate server is running on the data folder %s (it holds %s); with SQLite one server uses a folder, use PostgreSQL (ACTIONGATE_DATABASE_URL) to run several", dir, path)
		}
		return nil, fmt.Errorf("data folder lock: %w", err)
	}
	return func() { f.Close() }, nil
}
