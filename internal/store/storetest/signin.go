package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

func testPutTakeSignInState(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateAction(t, s, newAction("a1", t0))
	want := newSignInState("h1", "a1", t0.Add(10*time.Minute))
	mustPutSignInState(t, s, want)
	got, err := s.TakeSignInState(ctx, "h1")
	if err != nil {
		t.Fatalf("TakeSignInState: %v", err)
	}
	checkEqual(t, "TakeSignInState", got, want)
	_, err = s.TakeSignInState(ctx, "h1")
	wantErr(t, "TakeSignInState a second time", err, store.ErrNotFound)
	_, err = s.TakeSignInState(ctx, "missing")
	wantErr(t, "TakeSignInState(missing)", err, store.ErrNotFound)
}

func testPutSignInStateConflict(t *testing.T, s store.Store) {
	mustCreateAction(t, s, newAction("a1", t0))
	want := newSignInState("h1", "a1", t0.Add(10*time.Minute))
	mustPutSignInState(t, s, want)
	other := newSignInState("h1", "a1", t0.Add(time.Hour))
	other.User = "mallory"
	wantErr(t, "PutSignInState with an existing hash", s.PutSignInState(t.Context(), other), store.ErrConflict)
	got, err := s.TakeSignInState(t.Context(), "h1")
	if err != nil {
		t.Fatalf("TakeSignInState: %v", err)
	}
	checkEqual(t, "TakeSignInState after conflict", got, want)
}

func testTakeSignInStateConcurrent(t *testing.T, s store.Store) {
	mustCreateAction(t, s, newAction("a1", t0))
	want := newSignInState("h1", "a1", t0.Add(10*time.Minute))
	mustPutSignInState(t, s, want)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		winners  []store.SignInState
		notFound int
	)
	start := make(chan struct{})
	for i := range concurrency {
		wg.Go(func() {
			<-start
			got, err := s.TakeSignInState(t.Context(), "h1")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, got)
			case errors.Is(err, store.ErrNotFound):
				notFound++
			default:
				t.Errorf("TakeSignInState %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(winners) != 1 || notFound != concurrency-1 {
		t.Fatalf("%d concurrent takes: %d got the state and %d got ErrNotFound; want 1 and %d",
			concurrency, len(winners), notFound, concurrency-1)
	}
	checkEqual(t, "the winning take", winners[0], want)
}

func testTakeSignInStateExpired(t *testing.T, s store.Store) {
	mustCreateAction(t, s, newAction("a1", t0))
	want := newSignInState("h1", "a1", time.Now().Add(-time.Hour).Truncate(time.Microsecond))
	mustPutSignInState(t, s, want)
	got, err := s.TakeSignInState(t.Context(), "h1")
	if err != nil {
		t.Fatalf("TakeSignInState of an expired state: %v (expiry is the caller's to check)", err)
	}
	checkEqual(t, "TakeSignInState", got, want)
}

func testDeleteExpiredSignInStates(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateAction(t, s, newAction("a1", t0))
	now := t0.Add(time.Hour)
	states := map[string]time.Time{
		"long-gone": now.Add(-24 * time.Hour),
		"just-gone": now.Add(-time.Microsecond),
		"now":       now, // expires at now, not before: kept
		"soon":      now.Add(time.Microsecond),
		"later":     now.Add(time.Hour),
	}
	for hash, exp := range states {
		mustPutSignInState(t, s, newSignInState(hash, "a1", exp))
	}
	n, err := s.DeleteExpiredSignInStates(ctx, now)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredSignInStates = %d, %v; want 2, nil", n, err)
	}
	n, err = s.DeleteExpiredSignInStates(ctx, now)
	if err != nil || n != 0 {
		t.Errorf("DeleteExpiredSignInStates again = %d, %v; want 0, nil", n, err)
	}
	for hash := range states {
		_, err := s.TakeSignInState(ctx, hash)
		if expired := states[hash].Before(now); expired {
			wantErr(t, fmt.Sprintf("TakeSignInState(%q) after expiry sweep", hash), err, store.ErrNotFound)
		} else if err != nil {
			t.Errorf("TakeSignInState(%q) of an unexpired state: %v", hash, err)
		}
	}
}
