package secrets

import (
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadMasterKey(t *testing.T) {
	fileKey, envKey, dirKey := mustKey(t), mustKey(t), mustKey(t)
	dir := t.TempDir()
	write := func(name, content string, perm os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, perm); err != nil { // WriteFile is subject to umask
			t.Fatal(err)
		}
		return path
	}
	keyFile := write("key", fileKey.Encode()+"\n", 0o644) // explicit files may be 0644
	withKey := filepath.Join(dir, "with-key")
	os.Mkdir(withKey, 0o700)
	write("with-key/master.key", dirKey.Encode()+"\n", 0o600)
	loose := filepath.Join(dir, "loose")
	os.Mkdir(loose, 0o700)
	write("loose/master.key", dirKey.Encode()+"\n", 0o640)
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))

	for _, tt := range []struct {
		name string
		opts LoadOptions
		key  Key
		src  Source
		err  string
	}{
		{"file wins", LoadOptions{File: keyFile, Env: envKey.Encode(), DataDir: withKey}, fileKey, SourceFile, ""},
		{"env over data dir", LoadOptions{Env: envKey.Encode(), DataDir: withKey}, envKey, SourceEnv, ""},
		{"data dir", LoadOptions{DataDir: withKey}, dirKey, SourceDataDir, ""},
		{"missing file is no fallback", LoadOptions{File: filepath.Join(dir, "nope"), Env: envKey.Encode()}, Key{}, SourceFile, "no such file"},
		{"bad file", LoadOptions{File: write("bad", "not a key!\n", 0o600)}, Key{}, SourceFile, "not valid base64"},
		{"short file", LoadOptions{File: write("short", short, 0o600)}, Key{}, SourceFile, "16 bytes, want 32"},
		{"huge file", LoadOptions{File: write("huge", strings.Repeat("A", 2000), 0o600)}, Key{}, SourceFile, "larger than"},
		{"bad env", LoadOptions{Env: "%%%"}, Key{}, SourceEnv, "ACTIONGATE_MASTER_KEY: secrets: master key is not valid base64"},
		{"short env", LoadOptions{Env: short}, Key{}, SourceEnv, "16 bytes, want 32"},
		{"loose permissions", LoadOptions{DataDir: loose}, Key{}, SourceDataDir, "permissions 0640, too open"},
		{"nothing", LoadOptions{}, Key{}, 0, "no master key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, src, err := LoadMasterKey(tt.opts)
			if src != tt.src {
				t.Errorf("source = %v, want %v", src, tt.src)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				if strings.Contains(err.Error(), short) || strings.Contains(err.Error(), dirKey.Encode()) {
					t.Errorf("error reveals key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.ID() != tt.key.ID() {
				t.Errorf("key %s, want %s", k.ID(), tt.key.ID())
			}
		})
	}
}

func TestLoadMasterKeyGenerates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "dir")
	k, src, err := LoadMasterKey(LoadOptions{DataDir: dir})
	if err != nil || src != SourceGenerated {
		t.Fatalf("LoadMasterKey = %v, %v; want SourceGenerated", src, err)
	}
	path := filepath.Join(dir, KeyFileName)
	for p, want := range map[string]fs.FileMode{dir: 0o700, path: 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode().Perm(), err, want)
		}
	}
	content, err := os.ReadFile(path)
	if err != nil || string(content) != k.Encode()+"\n" {
		t.Errorf("key file holds %d bytes, %v; want the key and a newline", len(content), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d files, want only %s", len(entries), KeyFileName)
	}
	again, src, err := LoadMasterKey(LoadOptions{DataDir: dir})
	if err != nil || src != SourceDataDir || again.ID() != k.ID() {
		t.Errorf("second LoadMasterKey = %s, %v, %v; want %s, SourceDataDir", again.ID(), src, err, k.ID())
	}
}

func TestLoadMasterKeyRace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ids  = map[string]int{}
		srcs = map[Source]int{}
	)
	for range 8 {
		wg.Go(func() {
			k, src, err := LoadMasterKey(LoadOptions{DataDir: dir})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[k.ID()]++
			srcs[src]++
		})
	}
	wg.Wait()
	if len(ids) != 1 || srcs[SourceGenerated] != 1 || srcs[SourceDataDir] != 7 {
		t.Errorf("keys %v, sources %v; want one key, generated once", ids, srcs)
	}
}

func TestLoadMasterKeyNotADir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, _, err := LoadMasterKey(LoadOptions{DataDir: file}); err == nil {
		t.Errorf("data dir is a file: err = %v, want an error", err)
	}
}
