package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

// sealedFixture is a set of records holding sealed values, each value unique in
// the store so that a visit of it can be told apart from any other.
type sealedFixture struct {
	actions []store.Action
	conns   []store.Connection
	states  []store.SignInState
}

// rewrapFixture stores records whose sealed values are "old:<what>", and some
// without one (nil Secret, RefreshToken, AccessToken or Verifier), and returns
// them.
func rewrapFixture(t *testing.T, s store.Store) sealedFixture {
	t.Helper()
	var f sealedFixture
	for i := range 6 {
		a := newAction(fmt.Sprintf("a%d", i), t0.Add(time.Duration(i)*time.Second))
		a.Secret = []byte("old:secret-" + a.ID)
		if i == 5 {
			a.Secret = nil
		}
		mustCreateAction(t, s, a)
		f.actions = append(f.actions, a)
	}
	for i := range 5 {
		for _, user := range []string{"alice", "bob"} {
			c := newConnection(fmt.Sprintf("a%d", i), user)
			c.AccessToken = []byte("old:access-" + c.ActionID + "-" + user)
			c.RefreshToken = []byte("old:refresh-" + c.ActionID + "-" + user)
			switch c.ActionID + "-" + user {
			case "a1-bob":
				c.RefreshToken = nil
			case "a2-bob":
				c.AccessToken, c.RefreshToken = nil, nil
			case "a3-alice":
				c.AccessToken = nil
			}
			mustPutConnection(t, s, c)
			f.conns = append(f.conns, c)
		}
	}
	for i := range 6 {
		st := newSignInState(fmt.Sprintf("h%d", i), "a0", t0.Add(time.Hour))
		st.Verifier = []byte("old:verifier-" + st.Hash)
		if i == 5 {
			st.Verifier = nil
		}
		mustPutSignInState(t, s, st)
		f.states = append(f.states, st)
	}
	return f
}

// values returns every sealed value of f.
func (f sealedFixture) values() []string {
	var vs []string
	add := func(b []byte) {
		if b != nil {
			vs = append(vs, string(b))
		}
	}
	for _, a := range f.actions {
		add(a.Secret)
	}
	for _, c := range f.conns {
		add(c.AccessToken)
		add(c.RefreshToken)
	}
	for _, st := range f.states {
		add(st.Verifier)
	}
	return vs
}

// with returns a copy of f whose sealed values are replaced by change's result.
func (f sealedFixture) with(change func(v string) string) sealedFixture {
	apply := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		return []byte(change(string(b)))
	}
	var g sealedFixture
	for _, a := range f.actions {
		a.Secret = apply(a.Secret)
		g.actions = append(g.actions, a)
	}
	for _, c := range f.conns {
		c.AccessToken, c.RefreshToken = apply(c.AccessToken), apply(c.RefreshToken)
		g.conns = append(g.conns, c)
	}
	for _, st := range f.states {
		st.Verifier = apply(st.Verifier)
		g.states = append(g.states, st)
	}
	return g
}

// checkStored compares the stored records with f, every field included (so
// that RewrapAll is seen to change nothing but the values, UpdatedAt
// included). Sign-in states can only be read by taking them, so they are
// checked, and removed, only when takeStates is set.
func checkStored(t *testing.T, s store.Store, f sealedFixture, takeStates bool) {
	t.Helper()
	ctx := t.Context()
	for _, want := range f.actions {
		got, err := s.GetAction(ctx, want.ID)
		if err != nil {
			t.Fatalf("GetAction(%q): %v", want.ID, err)
		}
		checkEqual(t, "GetAction("+want.ID+")", got, want)
	}
	for _, want := range f.conns {
		got, err := s.GetConnection(ctx, want.ActionID, want.User)
		if err != nil {
			t.Fatalf("GetConnection(%q, %q): %v", want.ActionID, want.User, err)
		}
		checkEqual(t, "GetConnection("+want.ActionID+", "+want.User+")", got, want)
	}
	if !takeStates {
		return
	}
	for _, want := range f.states {
		got, err := s.TakeSignInState(ctx, want.Hash)
		if err != nil {
			t.Fatalf("TakeSignInState(%q): %v", want.Hash, err)
		}
		checkEqual(t, "TakeSignInState("+want.Hash+")", got, want)
	}
}

// rotate is a RewrapAll fn that turns "old:x" into "new:x" and leaves any other
// value alone.
func rotate(v []byte) ([]byte, bool, error) {
	if rest, ok := bytes.CutPrefix(v, []byte("old:")); ok {
		return append([]byte("new:"), rest...), true, nil
	}
	return nil, false, nil
}

// rotated is rotate for sealedFixture.with.
func rotated(v string) string {
	if rest, ok := strings.CutPrefix(v, "old:"); ok {
		return "new:" + rest
	}
	return v
}

// visits records the values a RewrapAll fn is called with.
type visits struct {
	t        *testing.T
	mu       sync.Mutex
	count    map[string]int
	inFlight atomic.Int32
}

func newVisits(t *testing.T) *visits { return &visits{t: t, count: map[string]int{}} }

// wrap returns fn recording its calls; it also checks that the calls are not
// concurrent and that no value is empty.
func (v *visits) wrap(fn func([]byte) ([]byte, bool, error)) func([]byte) ([]byte, bool, error) {
	return func(b []byte) ([]byte, bool, error) {
		if v.inFlight.Add(1) > 1 {
			v.t.Error("RewrapAll called fn again while a call was running")
		}
		defer v.inFlight.Add(-1)
		if len(b) == 0 {
			v.t.Errorf("RewrapAll called fn with an absent value (%#v)", b)
		}
		v.mu.Lock()
		v.count[string(b)]++
		v.mu.Unlock()
		return fn(b)
	}
}

// check fails the test unless each of want was visited exactly once, and
// nothing else was.
func (v *visits) check(what string, want []string) {
	v.t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	var problems []string
	for _, w := range want {
		if n := v.count[w]; n != 1 {
			problems = append(problems, fmt.Sprintf("%q visited %d times", w, n))
		}
	}
	for got, n := range v.count {
		found := false
		for _, w := range want {
			found = found || w == got
		}
		if !found {
			problems = append(problems, fmt.Sprintf("unexpected value %q visited %d times", got, n))
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		v.t.Errorf("%s: want each of the %d values visited exactly once:\n\t%s", what, len(want), strings.Join(problems, "\n\t"))
	}
}

func testRewrapAll(t *testing.T, s store.Store) {
	ctx := t.Context()
	v := newVisits(t)
	n, err := s.RewrapAll(ctx, v.wrap(rotate))
	if err != nil || n != 0 {
		t.Fatalf("RewrapAll on an empty store = %d, %v; want 0, nil", n, err)
	}
	v.check("RewrapAll on an empty store", nil)

	f := rewrapFixture(t, s)
	v = newVisits(t)
	n, err = s.RewrapAll(ctx, v.wrap(rotate))
	if err != nil {
		t.Fatalf("RewrapAll: %v", err)
	}
	v.check("first RewrapAll", f.values())
	if want := len(f.values()); n != want {
		t.Errorf("first RewrapAll replaced %d values, want %d", n, want)
	}
	want := f.with(rotated)
	checkStored(t, s, want, false)

	// Everything is done: a second run visits the new values, once each, and
	// replaces nothing.
	v = newVisits(t)
	n, err = s.RewrapAll(ctx, v.wrap(rotate))
	if err != nil || n != 0 {
		t.Errorf("second RewrapAll = %d, %v; want 0, nil", n, err)
	}
	v.check("second RewrapAll", want.values())
	checkStored(t, s, want, true)
}

func testRewrapAllUnchanged(t *testing.T, s store.Store) {
	f := rewrapFixture(t, s)
	// Only the action secrets change; for the others fn offers a replacement
	// but says changed=false, so it must not be written.
	n, err := s.RewrapAll(t.Context(), func(v []byte) ([]byte, bool, error) {
		if bytes.HasPrefix(v, []byte("old:secret-")) {
			return rotate(v)
		}
		return []byte("new:must-not-be-written"), false, nil
	})
	if err != nil {
		t.Fatalf("RewrapAll: %v", err)
	}
	if n != 5 {
		t.Errorf("RewrapAll replaced %d values, want the 5 secrets", n)
	}
	checkStored(t, s, f.with(func(v string) string {
		if strings.HasPrefix(v, "old:secret-") {
			return rotated(v)
		}
		return v
	}), true)
}

// blockedTimeout is how long a write made from inside fn may take before the
// test concludes that RewrapAll holds a transaction while fn runs.
const blockedTimeout = 10 * time.Second

// writeFromFn makes write in another goroutine, as a concurrent writer would,
// and waits for it. Called from inside fn: if write is still blocked after
// blockedTimeout, RewrapAll is holding back writes while fn runs, and the test
// fails. The returned func waits for a write that timed out; call it once
// RewrapAll has returned.
func writeFromFn(t *testing.T, what string, write func() error) (wait func()) {
	done := make(chan error, 1)
	go func() { done <- write() }()
	report := func(err error) {
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	select {
	case err := <-done:
		report(err)
		return func() {}
	case <-time.After(blockedTimeout):
		t.Errorf("%s, made while fn ran, was still blocked after %v: RewrapAll must call fn outside any write transaction",
			what, blockedTimeout)
		return func() { report(<-done) }
	}
}

// testRewrapAllCompareAndSwap changes values between their visit and their
// replacement, from another goroutine while fn runs: the concurrent write
// wins, and RewrapAll does not count those values.
func testRewrapAllCompareAndSwap(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := rewrapFixture(t, s)
	concurrent := map[string]string{
		"old:secret-a1":        "concurrent:secret-a1",
		"old:access-a1-alice":  "concurrent:access-a1-alice",
		"old:refresh-a2-alice": "concurrent:refresh-a2-alice",
		"old:verifier-h1":      "concurrent:verifier-h1",
	}
	writes := map[string]func() error{
		"old:secret-a1": func() error {
			_, err := s.UpdateAction(ctx, "a1", func(a *store.Action) error {
				a.Secret = []byte(concurrent["old:secret-a1"])
				return nil
			})
			return err
		},
		"old:access-a1-alice": func() error {
			_, err := s.UpdateConnection(ctx, "a1", "alice", func(c *store.Connection) error {
				c.AccessToken = []byte(concurrent["old:access-a1-alice"])
				return nil
			})
			return err
		},
		"old:refresh-a2-alice": func() error {
			_, err := s.UpdateConnection(ctx, "a2", "alice", func(c *store.Connection) error {
				c.RefreshToken = []byte(concurrent["old:refresh-a2-alice"])
				return nil
			})
			return err
		},
		// A sign-in state cannot be updated: it is taken and stored anew.
		"old:verifier-h1": func() error {
			st, err := s.TakeSignInState(ctx, "h1")
			if err != nil {
				return err
			}
			st.Verifier = []byte(concurrent["old:verifier-h1"])
			return s.PutSignInState(ctx, st)
		},
	}
	var waits []func()
	v := newVisits(t)
	n, err := s.RewrapAll(ctx, v.wrap(func(b []byte) ([]byte, bool, error) {
		if w, ok := writes[string(b)]; ok {
			waits = append(waits, writeFromFn(t, "a concurrent write of "+string(b), w))
		}
		return rotate(b)
	}))
	for _, wait := range waits {
		wait()
	}
	if err != nil {
		t.Fatalf("RewrapAll: %v", err)
	}
	if len(waits) != len(writes) {
		t.Fatalf("fn saw %d of the %d values written concurrently", len(waits), len(writes))
	}
	v.check("RewrapAll", f.values())
	if want := len(f.values()) - len(writes); n != want {
		t.Errorf("RewrapAll replaced %d values, want %d (all but the %d changed concurrently)", n, want, len(writes))
	}
	checkStored(t, s, f.with(func(v string) string {
		if c, ok := concurrent[v]; ok {
			return c
		}
		return rotated(v)
	}), true)
}

// testRewrapAllConcurrentDelete deletes records between the visit of their
// values and the replacement: RewrapAll neither fails nor brings them back.
func testRewrapAllConcurrentDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := rewrapFixture(t, s)
	deleted := map[string]bool{} // values whose records are gone
	var waits []func()
	n, err := s.RewrapAll(ctx, func(b []byte) ([]byte, bool, error) {
		v := string(b)
		switch {
		case deleted[v]:
		case v == "old:access-a1-alice" || v == "old:refresh-a1-alice":
			deleted["old:access-a1-alice"], deleted["old:refresh-a1-alice"] = true, true
			waits = append(waits, writeFromFn(t, "DeleteConnection(a1, alice)", func() error {
				return s.DeleteConnection(ctx, "a1", "alice")
			}))
		case v == "old:verifier-h1":
			deleted[v] = true
			waits = append(waits, writeFromFn(t, "TakeSignInState(h1)", func() error {
				_, err := s.TakeSignInState(ctx, "h1")
				return err
			}))
		}
		return rotate(b)
	})
	for _, wait := range waits {
		wait()
	}
	if err != nil {
		t.Fatalf("RewrapAll: %v", err)
	}
	if want := len(f.values()) - 3; n != want {
		t.Errorf("RewrapAll replaced %d values, want %d (all but the 3 of deleted records)", n, want)
	}
	_, err = s.GetConnection(ctx, "a1", "alice")
	wantErr(t, "GetConnection of a connection deleted during RewrapAll", err, store.ErrNotFound)
	_, err = s.TakeSignInState(ctx, "h1")
	wantErr(t, "TakeSignInState of a state taken during RewrapAll", err, store.ErrNotFound)
	want := f.with(rotated)
	want.conns = deleteFunc(want.conns, func(c store.Connection) bool { return c.ActionID == "a1" && c.User == "alice" })
	want.states = deleteFunc(want.states, func(st store.SignInState) bool { return st.Hash == "h1" })
	checkStored(t, s, want, true)
}

func deleteFunc[T any](list []T, del func(T) bool) []T {
	var out []T
	for _, x := range list {
		if !del(x) {
			out = append(out, x)
		}
	}
	return out
}

// testRewrapAllConcurrentWrites has one goroutine per connection change its
// access token once, starting when fn first sees that connection and racing
// with the rest of the run, fn not waiting for it: whether the write lands
// before the visit, between the visit and the replacement, or after, it is
// the value that stays, and every row is still visited once.
func testRewrapAllConcurrentWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	var f sealedFixture
	ids := map[string]int{}
	for i := range concurrency {
		id := fmt.Sprintf("c%02d", i)
		ids[id] = i
		a := newAction(id, t0)
		a.Secret = []byte("old:secret-" + id)
		mustCreateAction(t, s, a)
		f.actions = append(f.actions, a)
		c := newConnection(id, "alice")
		c.AccessToken, c.RefreshToken = []byte("old:access-"+id), []byte("old:refresh-"+id)
		mustPutConnection(t, s, c)
		f.conns = append(f.conns, c)
	}

	var wg sync.WaitGroup
	wake := make([]chan struct{}, concurrency)
	woken := make([]sync.Once, concurrency)
	for i := range concurrency {
		wake[i] = make(chan struct{})
		wg.Go(func() {
			select {
			case <-wake[i]:
			case <-t.Context().Done():
				return
			}
			time.Sleep(rand.N(500 * time.Microsecond))
			id := fmt.Sprintf("c%02d", i)
			_, err := s.UpdateConnection(ctx, id, "alice", func(c *store.Connection) error {
				c.AccessToken = []byte("w:access-" + id)
				return nil
			})
			if err != nil {
				t.Errorf("UpdateConnection(%s): %v", id, err)
			}
		})
	}
	var mu sync.Mutex
	seen := map[string]int{} // access token visits by connection
	n, err := s.RewrapAll(ctx, func(b []byte) ([]byte, bool, error) {
		v := string(b)
		for _, kind := range []string{":access-", ":refresh-"} {
			if _, id, ok := strings.Cut(v, kind); ok {
				i := ids[id]
				woken[i].Do(func() { close(wake[i]) })
				if kind == ":access-" {
					mu.Lock()
					seen[id]++
					mu.Unlock()
				}
			}
		}
		time.Sleep(200 * time.Microsecond) // leave the writers time to land
		return rotate(b)
	})
	for i := range concurrency {
		woken[i].Do(func() { close(wake[i]) })
	}
	wg.Wait()
	if err != nil {
		t.Fatalf("RewrapAll: %v", err)
	}
	// 20 secrets and 20 refresh tokens, and the access tokens replaced before
	// their write landed.
	if n < 2*concurrency || n > 3*concurrency {
		t.Errorf("RewrapAll replaced %d values, want between %d and %d", n, 2*concurrency, 3*concurrency)
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("the access token of %s was visited %d times, want once", id, seen[id])
		}
	}
	checkStored(t, s, f.with(func(v string) string {
		if _, id, ok := strings.Cut(v, ":access-"); ok {
			return "w:access-" + id
		}
		return rotated(v)
	}), false)
}

func testRewrapAllFnError(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := rewrapFixture(t, s)
	total := len(f.values())

	// An error on the first value: nothing is replaced.
	calls := 0
	n, err := s.RewrapAll(ctx, func(b []byte) ([]byte, bool, error) {
		calls++
		if calls > 1 {
			t.Errorf("fn called again after it returned an error")
		}
		return nil, false, errFn
	})
	if !errors.Is(err, errFn) || n != 0 {
		t.Errorf("RewrapAll with fn failing at once = %d, %v; want 0, fn's error", n, err)
	}
	checkStored(t, s, f, false)

	// An error on the 8th value, after some were replaced: the run stops there,
	// and its count is exact, as a second run shows.
	const failAt = 8
	calls = 0
	n1, err := s.RewrapAll(ctx, func(b []byte) ([]byte, bool, error) {
		calls++
		switch {
		case calls > failAt:
			t.Errorf("fn called again after it returned an error")
		case calls == failAt:
			return nil, false, errFn
		}
		return rotate(b)
	})
	if !errors.Is(err, errFn) {
		t.Errorf("RewrapAll with fn failing at value %d: error %v, want fn's error", failAt, err)
	}
	if n1 < 0 || n1 >= failAt {
		t.Errorf("RewrapAll with fn failing at value %d replaced %d values, want fewer than %d", failAt, n1, failAt)
	}
	v := newVisits(t)
	n2, err := s.RewrapAll(ctx, v.wrap(rotate))
	if err != nil {
		t.Fatalf("RewrapAll after the failed run: %v", err)
	}
	if n1+n2 != total {
		t.Errorf("the failed run says it replaced %d values and the next %d: %d in all, want %d", n1, n2, n1+n2, total)
	}
	checkStored(t, s, f.with(rotated), true)
}

// testRewrapAllEmptyReplacement checks the refusal the suite adds to the
// contract: an empty replacement with changed=true would erase the secret.
func testRewrapAllEmptyReplacement(t *testing.T, s store.Store) {
	f := rewrapFixture(t, s)
	for name, empty := range map[string][]byte{"nil": nil, "empty": {}} {
		n, err := s.RewrapAll(t.Context(), func([]byte) ([]byte, bool, error) { return empty, true, nil })
		if err == nil || n != 0 {
			t.Errorf("RewrapAll with fn returning a %s replacement = %d, %v; want 0 and an error", name, n, err)
		}
	}
	checkStored(t, s, f, true)
}
