// Package postgres is the store.Store backend for PostgreSQL, which lets
// several actiongate replicas share one database.
//
// It uses pgx natively through a connection pool (pgxpool). Open applies the
// embedded migrations in a transaction that first takes an advisory lock, so
// that replicas starting at once do not race; a database migrated by a newer
// actiongate is refused. The tables live in the first schema of the search_path
// (e.g. postgres://…/db?search_path=actiongate).
//
// Types: times are timestamptz, which keeps microseconds; they are read back in
// UTC, and a zero ExpiresAt or RevokedAt is NULL. Byte slices are bytea, NULL
// for nil or empty; token scopes are a text[]. Keys are text in the "C"
// collation, so they order by byte value; like every PostgreSQL text, they
// cannot hold NUL bytes or invalid UTF-8.
//
// Read-modify-write updates run at READ COMMITTED and lock the row with SELECT …
// FOR UPDATE, so concurrent updates of one record, from any replica, take turns
// instead of losing one another's changes. A transaction that PostgreSQL aborts
// with a serialization failure or a deadlock is retried a few times, calling
// the update's fn again.
//
// Audit events take their IDs from an identity column while holding an
// advisory lock, so that they commit in ID order and a reader paging with
// AfterID never skips an event that commits late.
//
// WithConnectionLock coordinates work on one connection across replicas with a
// transaction-scoped advisory lock.
//
// The connection string is anything pgx accepts, pool settings such as
// pool_max_conns included. Behind a pooler in transaction mode (PgBouncer) add
// default_query_exec_mode=exec, since pgx otherwise caches prepared statements
// per connection; advisory locks need session continuity within a
// transaction, which transaction pooling keeps.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/actiongate/actiongate/internal/store"
)

var _ store.Store = (*Store)(nil)

// SQLSTATE codes this package acts on.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeForeignKeyViolation  = "23503"
	codeUniqueViolation      = "23505"
	codeLockNotAvailable     = "55P03" // lock_timeout expired
)

// maxAttempts bounds how many times a transaction is tried when PostgreSQL
// aborts it with a serialization failure or a deadlock.
const maxAttempts = 5

// Store is a store.Store kept in a PostgreSQL database. Its methods are safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// locks holds the connections of WithConnectionLock, which stay busy while
	// they wait for and hold a lock. Kept apart from pool, so that waiters cannot
	// take every connection away from the holder's own store calls.
	locks *pgxpool.Pool
	// isolation is the isolation level of update transactions: ReadCommitted,
	// changed only by tests that need serialization failures.
	isolation pgx.TxIsoLevel
	// rewrapBatch is how many rows RewrapAll reads at a time: defaultRewrapBatch,
	// changed only by tests.
	rewrapBatch int

	closeOnce sync.Once
}

// Open connects to the database at url, a PostgreSQL connection string in URL
// or keyword/value form, and brings its schema up to date. It fails if the
// database was migrated by a newer actiongate whose schema this one does not
// know.
func Open(ctx context.Context, url string) (*Store, error) {
	if url == "" {
		return nil, errors.New("postgres: empty database URL")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// %v, not %w: a *pgconn.ParseConfigError keeps the unredacted string.
		return nil, fmt.Errorf("postgres: parse database URL: %v", err)
	}
	setDefaults(cfg.ConnConfig)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	connected := false
	err = pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
		connected = true
		return migrate(ctx, c.Conn(), migrations)
	})
	if err != nil {
		pool.Close()
		if !connected {
			err = fmt.Errorf("postgres: connect: %w", err)
		}
		return nil, err
	}
	// Lock connections are opened on demand, and not kept idle for long: most
	// replicas hold a lock only now and then.
	lockCfg := cfg.Copy()
	lockCfg.MinConns, lockCfg.MinIdleConns = 0, 0
	lockCfg.MaxConnIdleTime = time.Minute
	locks, err := pgxpool.NewWithConfig(ctx, lockCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &Store{pool: pool, locks: locks, isolation: pgx.ReadCommitted, rewrapBatch: defaultRewrapBatch}, nil
}

// setDefaults names connections "actiongate" in pg_stat_activity unless the
// connection string sets application_name.
func setDefaults(cfg *pgx.ConnConfig) {
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "actiongate"
	}
}

// Ping reports whether the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// Close closes the connections, waiting for those in use to be given back.
// Calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.locks.Close()
		s.pool.Close()
	})
	return nil
}

// fnError carries the error of an update's fn out of the transaction, so that it
// is returned as is and never retried.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// inTx runs body in a transaction at s.isolation and commits it, trying again
// up to maxAttempts in all when PostgreSQL aborts it with a serialization
// failure or a deadlock. An error body returns as fnError{err} comes back as
// err, without retry.
func (s *Store) inTx(ctx context.Context, body func(pgx.Tx) error) error {
	err := retry(ctx, func() error { return s.tx(ctx, body) })
	if fe, ok := err.(fnError); ok {
		return fe.err
	}
	return err
}

func (s *Store) tx(ctx context.Context, body func(pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: s.isolation})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Also when body panics, so the connection goes back to the pool. After
	// Commit it does nothing; if it fails, pgx closes the connection, which ends
	// the transaction on the server.
	defer tx.Rollback(ctx)
	if err := body(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// retry calls attempt until it succeeds, fails with an error that is not worth
// retrying, or has been called maxAttempts times, waiting a little longer
// before each new call. It returns attempt's last error.
func retry(ctx context.Context, attempt func() error) error {
	for i := 1; ; i++ {
		err := attempt()
		if err == nil || i == maxAttempts || !retryable(err) {
			return err
		}
		// 0–10ms, then 0–20ms, … : jitter so that the transactions that
		// collided do not collide again.
		t := time.NewTimer(rand.N(time.Duration(i) * 10 * time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// retryable reports whether err is PostgreSQL asking for the whole transaction
// to be run again.
func retryable(err error) bool {
	code := pgCode(err)
	return code == codeSerializationFailure || code == codeDeadlockDetected
}

// pgCode returns the SQLSTATE of a PostgreSQL error in err's chain, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// mapError turns the PostgreSQL errors that the store contract names into its
// sentinels: a missing parent (foreign key) is store.ErrNotFound, a duplicate
// key store.ErrConflict, no row store.ErrNotFound.
func mapError(err error) error {
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case pgCode(err) == codeForeignKeyViolation:
		return store.ErrNotFound
	case pgCode(err) == codeUniqueViolation:
		return store.ErrConflict
	}
	return err
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// fromNullTime is the inverse of nullTime; the result is in UTC.
func fromNullTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// blob stores a nil or empty slice as NULL, so that both come back nil.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nilIfEmpty makes an empty slice read back nil, should one have been stored
// by something other than this package.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
