//go:build linux || darwin

package sqlite

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFileMode checks that the database, -wal and -shm files are 0600 whatever
// the umask. Umask is process-wide, so this test must not run in parallel.
func TestFileMode(t *testing.T) {
	for _, umask := range []int{0, 0o022, 0o277} {
		old := syscall.Umask(umask)
		path := filepath.Join(t.TempDir(), "actiongate.db")
		s, err := Open(t.Context(), path)
		syscall.Umask(old)
		if err != nil {
			t.Fatalf("umask %03o: Open: %v", umask, err)
		}
		if err := s.PutMeta(t.Context(), "k", []byte("v")); err != nil {
			t.Fatalf("umask %03o: PutMeta: %v", umask, err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Errorf("umask %03o: %v", umask, err)
				continue
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("umask %03o: %s has mode %04o, want 0600", umask, filepath.Base(p), m)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// TestFileModeKept checks that Open leaves an existing file's mode alone.
func TestFileModeKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "actiongate.db")
	if err := os.WriteFile(path, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	openAt(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o640 {
		t.Errorf("mode %04o, want the existing 0640", m)
	}
}
