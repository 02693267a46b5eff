package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

// Advisory locks are per database, not per schema, so each test locks an
// action ID of its own to keep clear of tests running beside it.
func randomActionID() string { return "lock-test-" + hex.EncodeToString(randomBytes(8)) }

// lockHolders returns the pids of the backends holding (granted) or waiting for
// (not granted) the advisory lock of (actionID, user) in the current database.
func lockHolders(t *testing.T, s *Store, actionID, user string, granted bool) []int32 {
	t.Helper()
	key := uint64(connectionLockKey(actionID, user))
	rows, err := s.pool.Query(t.Context(), `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 1 AND granted = $3
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND classid::int8 = $1 AND objid::int8 = $2`,
		int64(key>>32), int64(key&0xffffffff), granted)
	if err != nil {
		t.Fatalf("pg_locks: %v", err)
	}
	defer rows.Close()
	var pids []int32
	for rows.Next() {
		var pid int32
		if err := rows.Scan(&pid); err != nil {
			t.Fatalf("pg_locks: %v", err)
		}
		pids = append(pids, pid)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("pg_locks: %v", err)
	}
	return pids
}

// waitForLockState waits until n backends hold (granted) or wait for the lock.
func waitForLockState(t *testing.T, s *Store, actionID, user string, granted bool, n int) []int32 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pids := lockHolders(t, s, actionID, user, granted)
		if len(pids) == n {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends with granted=%v on the lock, want %d", len(pids), granted, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holdLock takes the lock of (actionID, user) in a goroutine and keeps it until
// release is called, which returns WithConnectionLock's result.
func holdLock(t *testing.T, s *Store, actionID, user string) (release func() error) {
	t.Helper()
	held, done := make(chan struct{}), make(chan struct{})
	result := make(chan error, 1)
	go func() {
		result <- s.WithConnectionLock(context.Background(), actionID, user, func(context.Context) error {
			close(held)
			<-done
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-result:
		t.Fatalf("WithConnectionLock: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("lock not taken in 20s")
	}
	release = sync.OnceValue(func() error {
		close(done)
		return <-result
	})
	t.Cleanup(func() { release() })
	return release
}

// TestConnectionLockSerial has goroutines on two Stores, each with its own
// pools as two replicas would, take the same lock over and over: fn never runs
// in two of them at once.
func TestConnectionLockSerial(t *testing.T) {
	t.Parallel()
	const (
		perStore = 2  // goroutines
		rounds   = 10 // locks each
		hold     = 5 * time.Millisecond
	)
	u, _ := newSchema(t)
	stores := []*Store{openAt(t, u), openAt(t, u)}
	action := randomActionID()
	var inside, overlaps, runs atomic.Int32
	var wg sync.WaitGroup
	start := time.Now()
	for _, s := range stores {
		for range perStore {
			wg.Go(func() {
				for range rounds {
					err := s.WithConnectionLock(t.Context(), action, "alice", func(context.Context) error {
						if inside.Add(1) != 1 {
							overlaps.Add(1)
						}
						time.Sleep(hold)
						inside.Add(-1)
						runs.Add(1)
						return nil
					})
					if err != nil {
						t.Errorf("WithConnectionLock: %v", err)
					}
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	const total = 2 * perStore * rounds
	if n := runs.Load(); n != total {
		t.Errorf("fn ran %d times, want %d", n, total)
	}
	if n := overlaps.Load(); n != 0 {
		t.Errorf("fn ran in two goroutines at once %d times, want never", n)
	}
	if elapsed < total*hold {
		t.Errorf("%d locked runs of %v took %v: they cannot have been serial", total, hold, elapsed)
	}
}

// TestConnectionLockKeys checks that locks on other connections, same action
// or same user, do not wait for a held one.
func TestConnectionLockKeys(t *testing.T) {
	t.Parallel()
	u, _ := newSchema(t)
	s1, s2 := openAt(t, u), openAt(t, u)
	action := randomActionID()
	release := holdLock(t, s1, action, "alice")
	defer release()
	for _, k := range [][2]string{{action, "bob"}, {action + "x", "alice"}, {"alice", action}} {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		ran := false
		err := s2.WithConnectionLock(ctx, k[0], k[1], func(context.Context) error { ran = true; return nil })
		cancel()
		if err != nil || !ran {
			t.Errorf("WithConnectionLock(%q, %q) while (%q, alice) is held: ran=%v, %v", k[0], k[1], action, ran, err)
		}
	}
}

// TestConnectionLockHolderKilled kills the database session of a lock's holder:
// PostgreSQL releases the lock, the waiter gets it, and the holder learns of
// the loss when it ends.
func TestConnectionLockHolderKilled(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u, _ := newSchema(t)
	holder, waiter := openAt(t, u), openAt(t, u)
	action := randomActionID()

	held, release := make(chan struct{}), make(chan struct{})
	holderErr := make(chan error, 1)
	go func() {
		holderErr <- holder.WithConnectionLock(ctx, action, "alice", func(context.Context) error {
			close(held)
			<-release
			return nil
		})
	}()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	<-held
	pids := waitForLockState(t, waiter, action, "alice", true, 1)

	waiterRan := make(chan struct{})
	waiterErr := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		waiterErr <- waiter.WithConnectionLock(wctx, action, "alice", func(context.Context) error {
			close(waiterRan)
			return nil
		})
	}()
	waitForLockState(t, waiter, action, "alice", false, 1)
	select {
	case <-waiterRan:
		t.Fatal("the waiter got the lock while the holder had it")
	default:
	}

	adminExec(ctx, t, `SELECT pg_terminate_backend($1)`, pids[0])
	// The waiter reports once it has run (or failed); waiting on waiterRan and
	// waiterErr in one select would race, as both are ready when it is done.
	select {
	case err := <-waiterErr:
		if err != nil {
			t.Fatalf("waiter: %v", err)
		}
		select {
		case <-waiterRan:
		default:
			t.Fatal("the waiter returned without running")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiter did not get the lock within 20s of the holder's session being killed")
	}

	close(release)
	if err := <-holderErr; !errors.Is(err, ErrLockLost) {
		t.Errorf("holder whose session was killed: %v, want ErrLockLost", err)
	}
	// The holder's store has dropped the dead connection and locks again.
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := holder.WithConnectionLock(lctx, action, "alice", func(context.Context) error { return nil }); err != nil {
		t.Errorf("holder locking again: %v", err)
	}
}

// TestConnectionLockContext checks that ctx bounds the wait, by its deadline or
// by cancellation, and that the store is fine afterwards.
func TestConnectionLockContext(t *testing.T) {
	t.Parallel()
	u, _ := newSchema(t)
	// One connection per pool: a connection left broken or in a transaction
	// would show at the next lock.
	u = withParams(t, u, "pool_max_conns", "1")
	s1, s2 := openAt(t, u), openAt(t, u)
	action := randomActionID()
	release := holdLock(t, s1, action, "alice")
	mustNotRun := func(context.Context) error {
		t.Error("fn ran without the lock")
		return nil
	}

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := s2.WithConnectionLock(ctx, action, "alice", mustNotRun)
		elapsed := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want context.DeadlineExceeded", err)
		}
		if elapsed < 250*time.Millisecond || elapsed > 5*time.Second {
			t.Errorf("gave up after %v, want about 300ms", elapsed)
		}
		t.Logf("after %v: %v", elapsed, err)
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		err := s2.WithConnectionLock(ctx, action, "alice", mustNotRun)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("gave up after %v, want about 200ms", elapsed)
		}
	})
	t.Run("far deadline", func(t *testing.T) {
		// Beyond lock_timeout's range: cancellation still ends the wait.
		ctx, cancel := context.WithTimeout(t.Context(), 100*24*time.Hour)
		time.AfterFunc(200*time.Millisecond, cancel)
		if err := s2.WithConnectionLock(ctx, action, "alice", mustNotRun); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancel()
		if err := s2.WithConnectionLock(ctx, action, "bob", mustNotRun); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want context.DeadlineExceeded", err)
		}
	})

	if err := release(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ran := false
	if err := s2.WithConnectionLock(ctx, action, "alice", func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("locking after the holder let go: ran=%v, %v", ran, err)
	}
	if err := s2.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// TestConnectionLockFn checks that fn's error comes back as is, that a failing
// or panicking fn releases the lock, and that fn may use the store even when
// its pool has a single connection.
func TestConnectionLockFn(t *testing.T) {
	t.Parallel()
	u, _ := newSchema(t)
	s := openAt(t, withParams(t, u, "pool_max_conns", "1"))
	other := openAt(t, u)
	action := randomActionID()
	ctx := t.Context()

	// The lock is free again: another replica takes it at once.
	checkFree := func(what string) {
		t.Helper()
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := other.WithConnectionLock(lctx, action, "alice", func(context.Context) error { return nil }); err != nil {
			t.Errorf("after %s, locking again: %v", what, err)
		}
	}

	errFn := errors.New("fn failed")
	if err := s.WithConnectionLock(ctx, action, "alice", func(context.Context) error { return errFn }); err != errFn {
		t.Errorf("error %v, want fn's error as is", err)
	}
	checkFree("a failing fn")

	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want fn's panic", r)
			}
		}()
		s.WithConnectionLock(ctx, action, "alice", func(context.Context) error { panic("boom") })
	}()
	checkFree("a panicking fn")

	now := time.Now()
	err := s.WithConnectionLock(ctx, action, "alice", func(ctx context.Context) error {
		if _, err := s.GetConnection(ctx, action, "alice"); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := s.CreateAction(ctx, store.Action{ID: action, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		return s.PutConnection(ctx, store.Connection{ActionID: action, User: "alice", CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		t.Errorf("fn using the store: %v", err)
	}
	checkFree("fn using the store")
}

// goldenLockKey is connectionLockKey("action-1", "alice@example.com"), worked
// out independently: the first 8 bytes, big-endian, of
// SHA-256("actiongate connection lock\x00" + "\x08" + "action-1" + "alice@example.com").
const goldenLockKey = 0x7ee6ababf810e0b7

// TestConnectionLockKey pins the key derivation, which every replica of every
// version must share.
func TestConnectionLockKey(t *testing.T) {
	if got, want := connectionLockKey("action-1", "alice@example.com"), int64(goldenLockKey); got != want {
		t.Errorf("connectionLockKey = %#x, want %#x: changing it lets replicas of different versions refresh at once", got, want)
	}
	seen := map[int64][2]string{}
	for _, k := range [][2]string{{"a", "bc"}, {"ab", "c"}, {"", "abc"}, {"abc", ""}, {"a", "b"}, {"b", "a"}} {
		key := connectionLockKey(k[0], k[1])
		if prev, ok := seen[key]; ok {
			t.Errorf("%q and %q share the key %#x", prev, k, key)
		}
		seen[key] = k
	}
}
