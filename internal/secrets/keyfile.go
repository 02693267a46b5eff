package secrets

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// KeyFileName is the name of the master key file LoadMasterKey keeps in the
// data directory.
const KeyFileName = "master.key"

// LoadOptions says where LoadMasterKey looks, in order: File, Env, DataDir.
type LoadOptions struct {
	Env     string // value of ACTIONGATE_MASTER_KEY
	File    string // path from ACTIONGATE_MASTER_KEY_FILE or --master-key-file
	DataDir string // directory holding (or to hold) a generated KeyFileName
}

// Source says where LoadMasterKey found the key.
type Source int

const (
	SourceFile      Source = iota + 1 // LoadOptions.File
	SourceEnv                         // LoadOptions.Env
	SourceGenerated                   // a new key, just written to DataDir
	SourceDataDir                     // the key file already in DataDir
)

func (s Source) String() string {
	switch s {
	case SourceFile:
		return "file"
	case SourceEnv:
		return "environment"
	case SourceGenerated:
		return "generated"
	case SourceDataDir:
		return "data directory"
	}
	return fmt.Sprintf("Source(%d)", int(s))
}

// LoadMasterKey returns the master key from, in order of precedence,
// opts.File, opts.Env or DataDir/master.key, generating the latter (mode
// 0600, in a directory created 0700) if it does not exist. A key in the
// data directory sits next to the data it protects, so callers should warn
// when the Source is SourceGenerated or SourceDataDir. Errors never contain
// key material.
func LoadMasterKey(opts LoadOptions) (Key, Source, error) {
	switch {
	case opts.File != "":
		k, err := readKeyFile(opts.File, false)
		return k, SourceFile, err
	case opts.Env != "":
		k, err := ParseKey(opts.Env)
		if err != nil {
			err = fmt.Errorf("ACTIONGATE_MASTER_KEY: %w", err)
		}
		return k, SourceEnv, err
	case opts.DataDir != "":
		return loadOrCreate(opts.DataDir)
	}
	return Key{}, 0, errors.New("secrets: no master key: set ACTIONGATE_MASTER_KEY or ACTIONGATE_MASTER_KEY_FILE, or give a data directory")
}

func loadOrCreate(dir string) (Key, Source, error) {
	path := filepath.Join(dir, KeyFileName)
	k, err := readKeyFile(path, true)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, SourceDataDir, err
	}
	k, err = createKeyFile(dir, path)
	if errors.Is(err, fs.ErrExist) { // another process got there first
		k, err = readKeyFile(path, true)
		return k, SourceDataDir, err
	}
	return k, SourceGenerated, err
}

// createKeyFile writes a new key to path unless path exists. The key is
// written to a temporary file (created O_EXCL, mode 0600) that is then hard
// linked to path: like O_EXCL, the link fails if path exists, so racing
// processes agree on one key; unlike writing path directly, no reader ever
// sees a half-written file, and a crash leaves no empty one behind.
func createKeyFile(dir, path string) (Key, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Key{}, fmt.Errorf("secrets: creating master key: %w", err)
	}
	k, err := GenerateKey()
	if err != nil {
		return Key{}, err
	}
	tmp, err := os.CreateTemp(dir, "."+KeyFileName+".*")
	if err != nil {
		return Key{}, fmt.Errorf("secrets: creating master key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(k.Encode() + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return Key{}, fmt.Errorf("secrets: creating master key: %w", err)
	}
	return k, nil
}

// readKeyFile reads a base64 key from path. If private, the file must not
// be accessible to group or others, as ssh demands of private keys; files
// given explicitly are exempt, as orchestrators often mount them 0644.
func readKeyFile(path string, private bool) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("secrets: reading master key: %w", err)
	}
	defer f.Close()
	if private && runtime.GOOS != "windows" {
		fi, err := f.Stat()
		if err != nil {
			return Key{}, fmt.Errorf("secrets: reading master key: %w", err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return Key{}, fmt.Errorf("secrets: master key file %s has permissions %#o, too open: other users may read it; run chmod 600 %s", path, perm, path)
		}
	}
	const maxSize = 1 << 10
	b, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	defer clear(b)
	switch {
	case err != nil:
		return Key{}, fmt.Errorf("secrets: reading master key: %w", err)
	case len(b) > maxSize:
		return Key{}, fmt.Errorf("secrets: master key file %s is larger than %d bytes", path, maxSize)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// syncDir makes a new directory entry durable, so that a key that may
// already have sealed data is not lost in a crash.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" { // directories cannot be synced there
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
