// Package sqlite is the store.Store backend that keeps everything in one SQLite
// file.
//
// The database runs in WAL mode with foreign keys on, synchronous=NORMAL and a
// busy timeout. Writes go through a pool of one connection whose transactions
// begin IMMEDIATE, so read-modify-write updates are serialized and never fail
// with SQLITE_BUSY, even against another process waiting on the same file for
// less than the busy timeout; reads use a separate pool of read-only
// connections that run alongside the writer.
//
// Times are stored as integer unix microseconds in UTC (NULL for a zero
// ExpiresAt or RevokedAt); byte slices as BLOBs, NULL for nil or empty; token
// scopes as a JSON array.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/actiongate/actiongate/internal/store"
)

var _ store.Store = (*Store)(nil)

// pragmas are run by every new connection of both pools. busy_timeout comes
// first so that the others wait for a lock instead of failing.
var pragmas = []string{
	"busy_timeout(5000)",
	"foreign_keys(1)",
	"synchronous(NORMAL)",
}

// Store is a store.Store kept in one SQLite file. Its methods are safe for
// concurrent use.
type Store struct {
	path  string
	write *sql.DB // one connection; transactions BEGIN IMMEDIATE
	read  *sql.DB // several connections; query_only

	// rewrapBatch is how many rows RewrapAll reads at a time: defaultRewrapBatch,
	// changed only by tests.
	rewrapBatch int

	closeOnce sync.Once
	closeErr  error
}

// Open opens the database at path, creating it with mode 0600 if it does not
// exist, and brings its schema up to date. It fails if the database was written
// by a newer actiongate whose schema this one does not know.
//
// SQLite creates the -wal and -shm files next to it with the database file's
// own permissions, so they are 0600 too.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := createFile(abs); err != nil {
		return nil, err
	}

	s := &Store{path: abs, rewrapBatch: defaultRewrapBatch}
	s.write, err = sql.Open("sqlite", dsn(abs, "_txlock=immediate", "_pragma=journal_mode(WAL)"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	s.write.SetConnMaxIdleTime(0)
	if err := checkWAL(ctx, s.write); err != nil {
		s.write.Close()
		return nil, err
	}
	if err := migrate(ctx, s.write, migrations); err != nil {
		s.write.Close()
		return nil, err
	}

	// Read connections need not set journal_mode: WAL is a property of the file,
	// set above by the write pool.
	s.read, err = sql.Open("sqlite", dsn(abs, "_pragma=query_only(1)"))
	if err != nil {
		s.write.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.read.SetMaxOpenConns(n)
	s.read.SetMaxIdleConns(n)
	if err := s.read.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return s, nil
}

// createFile creates the database file with mode 0600 if it does not exist, so
// that neither the driver nor the umask decides its permissions. An existing
// file keeps the permissions its owner gave it.
func createFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: create database: %w", err)
	}
	// The umask can only have removed bits; Chmod is not subject to it.
	err = f.Chmod(0o600)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sqlite: create database: %w", err)
	}
	return nil
}

// checkWAL fails if the database is not in WAL mode: SQLite keeps the old
// journal mode without an error when the file system cannot do WAL, and readers
// would then block the writer.
func checkWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlite: journal mode is %q, not WAL: is the database on a network file system?", mode)
	}
	return nil
}

// dsn returns the driver's name for the file at the absolute path abs, with the
// common pragmas and the given extra query parameters. The path is escaped so
// that characters such as '?', '#' and '%' stay part of it.
func dsn(abs string, extra ...string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:/C:/...
	}
	var q []string
	for _, p := range pragmas {
		q = append(q, "_pragma="+url.QueryEscape(p))
	}
	for _, e := range extra {
		k, v, _ := strings.Cut(e, "=")
		q = append(q, k+"="+url.QueryEscape(v))
	}
	return "file:" + (&url.URL{Path: p}).EscapedPath() + "?" + strings.Join(q, "&")
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Ping reports whether the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// Close checkpoints the write-ahead log into the database file and closes it,
// leaving no -wal or -shm file behind when no other process has the database
// open. Calling Close again returns the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		errs := []error{s.read.Close()}
		// With every reader closed, a TRUNCATE checkpoint copies the whole log
		// into the database and empties it; busy is 1 if another process's
		// reader kept it from finishing.
		var busy, logFrames, done int
		err := s.write.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done)
		if err == nil && busy != 0 {
			err = errors.New("checkpoint blocked by another connection")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("checkpoint: %w", err))
		}
		errs = append(errs, s.write.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close: %w", err)
		}
	})
	return s.closeErr
}

// withTx runs fn in a write transaction, which begins IMMEDIATE so that its reads
// see the latest data and its writes cannot fail for a lock held by another
// connection. fn's error is returned as is.
func (s *Store) withTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	// Also when fn panics: a transaction left open would hold the only write
	// connection for good. After Commit it does nothing.
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// micros returns t as unix microseconds, the form times are stored in.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros is the inverse of micros; the result is in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros stores the zero time as NULL.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// fromNullMicros is the inverse of nullMicros.
func fromNullMicros(us sql.NullInt64) time.Time {
	if !us.Valid {
		return time.Time{}
	}
	return fromMicros(us.Int64)
}

// blob stores a nil or empty slice as NULL, so that both come back nil.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// isForeignKeyViolation reports whether err is SQLite refusing a row whose
// parent does not exist.
func isForeignKeyViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// notFoundIfNoRows maps sql.ErrNoRows to store.ErrNotFound.
func notFoundIfNoRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}
