package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrLockLost is returned by WithConnectionLock when fn succeeded but the lock
// could not be released cleanly: its database session failed, so it may have
// ended while fn ran and let another holder in at the same time. What fn did
// stands.
var ErrLockLost = errors.New("postgres: connection lock may have been lost while it was held")

// releaseTimeout bounds the ending of a lock's transaction, which runs even when
// the caller's context is done.
const releaseTimeout = 5 * time.Second

// WithConnectionLock runs fn while holding an exclusive lock on the connection
// (actionID, user) that all replicas sharing the database respect, so that,
// for example, only one of them refreshes a token at a time. The connection
// need not exist. fn's error is returned as is.
//
// The lock is a transaction-scoped advisory lock, pg_advisory_xact_lock, on a
// 64-bit hash of (actionID, user), taken in a transaction of its own on a
// connection set aside for locks; ending that transaction releases it, also
// when fn fails or panics. If the holding process dies or loses its connection,
// PostgreSQL ends the session and releases the lock, and the next waiter gets
// it. Two pairs may share a hash: they then merely take turns.
//
// Waiting is bounded by ctx: the wait ends, with an error that wraps ctx's
// error, when ctx is cancelled or its deadline passes (a deadline also becomes
// the transaction's lock_timeout, so the server gives up at the same time).
// fn receives ctx.
//
// The lock guards against duplicated work, not against lost updates: fn's
// store calls are not part of the lock's transaction, and a lock whose session
// dies while fn runs is gone without fn knowing (WithConnectionLock then
// returns ErrLockLost). Writes fn makes should therefore still be
// read-modify-write updates (UpdateConnection). fn may call the store but must
// not call WithConnectionLock, and it holds one connection of the lock pool,
// whose size is the store's pool size, while it runs.
func (s *Store) WithConnectionLock(ctx context.Context, actionID, user string, fn func(ctx context.Context) error) error {
	tx, err := s.locks.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return lockError(ctx, "begin", err)
	}
	released := false
	defer func() {
		if released {
			return
		}
		// fn failed or panicked, or taking the lock did. If this rollback fails,
		// pgx closes the connection and the server releases the lock.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		tx.Rollback(rctx)
	}()

	// lock_timeout 0 waits for as long as ctx allows, and so does
	// statement_timeout 0. idle_in_transaction_session_timeout is turned off so
	// that a server setting cannot end the session, and with it the lock, while
	// fn runs. All three are SET LOCAL: they end with the transaction.
	timeout := "0"
	if d, ok := ctx.Deadline(); ok {
		left := time.Until(d)
		if left <= 0 {
			return lockError(ctx, "wait", context.DeadlineExceeded)
		}
		// In milliseconds, rounded up so that the server gives up no sooner than
		// ctx; beyond lock_timeout's range (24 days), ctx alone ends the wait.
		if ms := (left + time.Millisecond - 1) / time.Millisecond; ms <= math.MaxInt32 {
			timeout = strconv.FormatInt(int64(ms), 10)
		}
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true),
		set_config('statement_timeout', '0', true),
		set_config('idle_in_transaction_session_timeout', '0', true)`, timeout); err != nil {
		return lockError(ctx, "begin", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, connectionLockKey(actionID, user)); err != nil {
		if pgCode(err) == codeLockNotAvailable {
			// The lock_timeout, which is ctx's deadline, has passed.
			err = fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
		}
		return lockError(ctx, "wait", err)
	}

	if err := fn(ctx); err != nil {
		return err
	}

	released = true
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := tx.Rollback(rctx); err != nil {
		return fmt.Errorf("%w: %v", ErrLockLost, err)
	}
	return nil
}

// lockError describes a failure to take the lock. It wraps ctx's error when ctx
// is done, so that errors.Is finds context.Canceled or DeadlineExceeded
// whichever of pgx or the server noticed first.
func lockError(ctx context.Context, step string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("postgres: connection lock: %s: %w (%v)", step, cerr, err)
	}
	return fmt.Errorf("postgres: connection lock: %s: %w", step, err)
}

// connectionLockKey is the advisory lock key of the connection (actionID,
// user): the first 8 bytes of a SHA-256 of a domain string and the two,
// actionID length-prefixed so that no two pairs encode alike. Replicas of
// different versions must agree on it: never change it.
func connectionLockKey(actionID, user string) int64 {
	h := sha256.New()
	h.Write([]byte("actiongate connection lock\x00"))
	h.Write(binary.AppendUvarint(nil, uint64(len(actionID))))
	h.Write([]byte(actionID))
	h.Write([]byte(user))
	return int64(binary.BigEndian.Uint64(h.Sum(nil)))
}
