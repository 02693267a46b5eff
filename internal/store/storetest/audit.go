package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

func newEvent(n int, typ, actionID, user string) store.AuditEvent {
	return store.AuditEvent{
		Time:     t0.Add(time.Duration(n) * time.Second),
		Actor:    "tok_admin",
		Type:     typ,
		ActionID: actionID,
		User:     user,
		Detail:   fmt.Sprintf(`{"n":%d}`, n),
	}
}

// mustAppend appends e, failing the test on error, and returns e with the ID
// the store gave it.
func mustAppend(t *testing.T, s store.Store, e store.AuditEvent) store.AuditEvent {
	t.Helper()
	id, err := s.AppendAudit(t.Context(), e)
	if err != nil {
		t.Fatalf("AppendAudit(%s): %v", e.Type, err)
	}
	e.ID = id
	return e
}

// mustListAudit lists the events f selects, failing the test on error.
func mustListAudit(t *testing.T, s store.Store, f store.AuditFilter) []store.AuditEvent {
	t.Helper()
	list, err := s.ListAudit(t.Context(), f)
	if err != nil {
		t.Fatalf("ListAudit(%+v): %v", f, err)
	}
	return list
}

// eventIDs returns the IDs of list, in order.
func eventIDs(list []store.AuditEvent) []int64 {
	var ids []int64
	for _, e := range list {
		ids = append(ids, e.ID)
	}
	return ids
}

// checkAscending fails the test unless ids strictly increase.
func checkAscending(t *testing.T, what string, ids []int64) {
	t.Helper()
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Errorf("%s: IDs %v do not strictly increase", what, ids)
			return
		}
	}
}

func testAppendListAudit(t *testing.T, s store.Store) {
	if got := mustListAudit(t, s, store.AuditFilter{}); len(got) != 0 {
		t.Fatalf("ListAudit on an empty store = %v, want none", got)
	}
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	in := []store.AuditEvent{
		newEvent(1, "action.created", "a1", ""),
		newEvent(2, "connection.created", "a1", "alice"),
		// Only what is required: no action, user or detail.
		{Time: t0.Add(3 * time.Second), Actor: "system", Type: "key.rotated"},
		// A time in another zone comes back in UTC.
		newEvent(4, "token.created", "", ""),
	}
	in[3].Time = in[3].Time.In(zone)
	var want []store.AuditEvent
	for i, e := range in {
		// The caller's ID is ignored: the store assigns its own.
		e.ID = 12345
		got := mustAppend(t, s, e)
		if got.ID <= 0 {
			t.Errorf("AppendAudit %d: ID %d, want one above 0 (the zero AfterID must list it)", i, got.ID)
		}
		if i > 0 && got.ID <= want[i-1].ID {
			t.Errorf("AppendAudit %d: ID %d, not above the previous %d", i, got.ID, want[i-1].ID)
		}
		want = append(want, got)
	}
	got := mustListAudit(t, s, store.AuditFilter{})
	if len(got) != len(want) {
		t.Fatalf("ListAudit returned %d events, want %d", len(got), len(want))
	}
	for i := range want {
		checkEqual(t, fmt.Sprintf("ListAudit[%d]", i), got[i], want[i])
	}
}

// auditFixture appends events of several types, actions and users, and returns
// them with their IDs.
func auditFixture(t *testing.T, s store.Store) []store.AuditEvent {
	t.Helper()
	var list []store.AuditEvent
	for i, e := range []store.AuditEvent{
		newEvent(0, "action.created", "a1", ""),
		newEvent(1, "connection.created", "a1", "alice"),
		newEvent(2, "connection.created", "a2", "alice"),
		newEvent(3, "connection.refreshed", "a1", "bob"),
		newEvent(4, "token.created", "", ""),
		newEvent(5, "connection.revoked", "a2", "bob"),
		newEvent(6, "connection.refreshed", "a1", "alice"),
		newEvent(7, "action.deleted", "a2", ""),
	} {
		e.Actor = fmt.Sprintf("actor%d", i%2)
		list = append(list, mustAppend(t, s, e))
	}
	return list
}

func testListAuditFilters(t *testing.T, s store.Store) {
	all := auditFixture(t, s)
	id := func(i int) int64 { return all[i].ID }
	tests := []struct {
		f    store.AuditFilter
		want []int // indexes into all
	}{
		{store.AuditFilter{}, []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{store.AuditFilter{ActionID: "a1"}, []int{0, 1, 3, 6}},
		{store.AuditFilter{ActionID: "a2"}, []int{2, 5, 7}},
		{store.AuditFilter{User: "alice"}, []int{1, 2, 6}},
		{store.AuditFilter{User: "bob"}, []int{3, 5}},
		{store.AuditFilter{Type: "connection.created"}, []int{1, 2}},
		{store.AuditFilter{Type: "token.created"}, []int{4}},
		{store.AuditFilter{ActionID: "a1", User: "alice"}, []int{1, 6}},
		{store.AuditFilter{ActionID: "a1", Type: "connection.refreshed"}, []int{3, 6}},
		{store.AuditFilter{User: "alice", Type: "connection.refreshed"}, []int{6}},
		{store.AuditFilter{ActionID: "a1", User: "bob", Type: "connection.refreshed"}, []int{3}},
		{store.AuditFilter{ActionID: "a2", User: "alice", Type: "connection.refreshed"}, nil},
		{store.AuditFilter{ActionID: "missing"}, nil},
		{store.AuditFilter{User: "carol"}, nil},
		{store.AuditFilter{Type: "connection"}, nil}, // no prefix match
		{store.AuditFilter{User: "alice", AfterID: id(1)}, []int{2, 6}},
		{store.AuditFilter{ActionID: "a1", Limit: 2}, []int{0, 1}},
		{store.AuditFilter{ActionID: "a1", AfterID: id(1), Limit: 1}, []int{3}},
	}
	for _, tc := range tests {
		got := mustListAudit(t, s, tc.f)
		var want []int64
		for _, i := range tc.want {
			want = append(want, all[i].ID)
		}
		if ids := eventIDs(got); !slices.Equal(ids, want) {
			t.Errorf("ListAudit(%+v) = %v, want %v", tc.f, ids, want)
		}
		for _, e := range got {
			i := slices.IndexFunc(all, func(a store.AuditEvent) bool { return a.ID == e.ID })
			if i >= 0 {
				checkEqual(t, fmt.Sprintf("ListAudit(%+v) event %d", tc.f, e.ID), e, all[i])
			}
		}
	}
}

func testListAuditPaging(t *testing.T, s store.Store) {
	var all []store.AuditEvent
	for i := range 10 {
		user := "alice"
		if i%3 == 0 {
			user = "bob"
		}
		all = append(all, mustAppend(t, s, newEvent(i, "connection.refreshed", "a1", user)))
	}
	page := func(f store.AuditFilter) []int64 {
		t.Helper()
		var ids []int64
		for range 100 {
			got := mustListAudit(t, s, f)
			if len(got) > f.Limit {
				t.Fatalf("ListAudit(%+v) returned %d events, more than the limit", f, len(got))
			}
			if len(got) == 0 {
				return ids
			}
			for _, e := range got {
				if e.ID <= f.AfterID {
					t.Fatalf("ListAudit(%+v) returned ID %d, not after AfterID", f, e.ID)
				}
			}
			ids = append(ids, eventIDs(got)...)
			f.AfterID = got[len(got)-1].ID
		}
		t.Fatal("paging does not end")
		return nil
	}
	if got, want := page(store.AuditFilter{Limit: 3}), eventIDs(all); !slices.Equal(got, want) {
		t.Errorf("paging by 3 = %v, want %v", got, want)
	}
	var alice []int64
	for _, e := range all {
		if e.User == "alice" {
			alice = append(alice, e.ID)
		}
	}
	if got := page(store.AuditFilter{User: "alice", Limit: 2}); !slices.Equal(got, alice) {
		t.Errorf("paging alice's events by 2 = %v, want %v", got, alice)
	}
	// AfterID in the middle, at the end, beyond it and below every ID.
	if got := eventIDs(mustListAudit(t, s, store.AuditFilter{AfterID: all[6].ID})); !slices.Equal(got, eventIDs(all[7:])) {
		t.Errorf("ListAudit after the 7th event = %v, want %v", got, eventIDs(all[7:]))
	}
	for _, after := range []int64{all[9].ID, all[9].ID + 1000} {
		if got := mustListAudit(t, s, store.AuditFilter{AfterID: after}); len(got) != 0 {
			t.Errorf("ListAudit(AfterID: %d) = %v, want none", after, eventIDs(got))
		}
	}
	if got := eventIDs(mustListAudit(t, s, store.AuditFilter{AfterID: -1})); !slices.Equal(got, eventIDs(all)) {
		t.Errorf("ListAudit(AfterID: -1) = %v, want every event", got)
	}
}

func testListAuditLimit(t *testing.T, s store.Store) {
	const n = 1005
	ids := make([]int64, n)
	// Appended by several goroutines, which is quicker on a server; the IDs are
	// sorted afterwards.
	var wg sync.WaitGroup
	const workers = 5
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				id, err := s.AppendAudit(t.Context(), newEvent(i, "connection.refreshed", "a1", "alice"))
				if err != nil {
					t.Errorf("AppendAudit: %v", err)
					return
				}
				ids[i] = id
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	slices.Sort(ids)
	tests := []struct {
		f    store.AuditFilter
		want []int64
	}{
		{store.AuditFilter{}, ids[:100]}, // 0 means 100
		{store.AuditFilter{Limit: -1}, ids[:100]},
		{store.AuditFilter{Limit: 1}, ids[:1]},
		{store.AuditFilter{Limit: 100}, ids[:100]},
		{store.AuditFilter{Limit: 101}, ids[:101]},
		{store.AuditFilter{Limit: 999}, ids[:999]},
		{store.AuditFilter{Limit: 1000}, ids[:1000]},
		{store.AuditFilter{Limit: 1001}, ids[:1000]}, // capped at 1000
		{store.AuditFilter{Limit: 1 << 30}, ids[:1000]},
		{store.AuditFilter{AfterID: ids[99]}, ids[100:200]},
		{store.AuditFilter{AfterID: ids[4], Limit: 5000}, ids[5:1005]},
		{store.AuditFilter{User: "alice", Limit: 2000}, ids[:1000]},
	}
	for _, tc := range tests {
		got := eventIDs(mustListAudit(t, s, tc.f))
		if !slices.Equal(got, tc.want) {
			t.Errorf("ListAudit(%+v) returned %d events (IDs %d…), want %d (IDs %d…)",
				tc.f, len(got), first(got), len(tc.want), first(tc.want))
		}
	}
}

func first(ids []int64) int64 {
	if len(ids) == 0 {
		return 0
	}
	return ids[0]
}

func testAppendAuditConcurrent(t *testing.T, s store.Store) {
	const perWorker = 5
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		all []store.AuditEvent
	)
	start := make(chan struct{})
	for w := range concurrency {
		wg.Go(func() {
			<-start
			var mine []int64
			for i := range perWorker {
				e := newEvent(w*perWorker+i, "connection.refreshed", fmt.Sprintf("a%d", w), "alice")
				id, err := s.AppendAudit(t.Context(), e)
				if err != nil {
					t.Errorf("AppendAudit: %v", err)
					return
				}
				e.ID = id
				mine = append(mine, id)
				mu.Lock()
				all = append(all, e)
				mu.Unlock()
			}
			// One goroutine's appends follow one another, so their IDs increase.
			checkAscending(t, fmt.Sprintf("worker %d's appends", w), mine)
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	slices.SortFunc(all, func(a, b store.AuditEvent) int { return cmp.Compare(a.ID, b.ID) })
	ids := eventIDs(all)
	if len(slices.Compact(slices.Clone(ids))) != concurrency*perWorker {
		t.Fatalf("%d concurrent appends got IDs %v, want %d distinct ones", concurrency*perWorker, ids, concurrency*perWorker)
	}
	got := mustListAudit(t, s, store.AuditFilter{Limit: 1000})
	if !slices.Equal(eventIDs(got), ids) {
		t.Fatalf("ListAudit = %v, want the appended %v", eventIDs(got), ids)
	}
	for i := range all {
		checkEqual(t, fmt.Sprintf("ListAudit[%d]", i), got[i], all[i])
	}
}

// testListAuditWhileAppending has a reader follow the log with AfterID while
// writers append: it must see every event, which it would not if an event could
// become visible after one with a larger ID.
func testListAuditWhileAppending(t *testing.T, s store.Store) {
	const perWorker = 25
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		appended []int64
	)
	start := make(chan struct{})
	for w := range concurrency {
		wg.Go(func() {
			<-start
			for i := range perWorker {
				id, err := s.AppendAudit(t.Context(), newEvent(w*perWorker+i, "connection.refreshed", "a1", "alice"))
				if err != nil {
					t.Errorf("AppendAudit: %v", err)
					return
				}
				mu.Lock()
				appended = append(appended, id)
				mu.Unlock()
			}
		})
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()

	var seen []int64
	after := int64(0)
	close(start)
	for done := false; ; {
		select {
		case <-writersDone:
			done = true
		default:
		}
		got, err := s.ListAudit(t.Context(), store.AuditFilter{AfterID: after, Limit: 1000})
		if err != nil {
			t.Fatalf("ListAudit: %v", err)
		}
		seen = append(seen, eventIDs(got)...)
		if len(got) > 0 {
			after = got[len(got)-1].ID
		} else if done {
			break // every append had returned before this read began
		}
	}
	<-writersDone
	checkAscending(t, "the events the reader saw", seen)
	slices.Sort(appended)
	if !slices.Equal(seen, appended) {
		var missed []int64
		for _, id := range appended {
			if _, found := slices.BinarySearch(seen, id); !found {
				missed = append(missed, id)
			}
		}
		t.Errorf("a reader following the log with AfterID saw %d of %d events; it missed %v",
			len(seen), len(appended), missed)
	}
}

// testAuditOutlivesAction checks that events are never changed or deleted: not
// by deleting the action they are about, and an event may name an action that
// does not exist.
func testAuditOutlivesAction(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateAction(t, s, newAction("a1", t0))
	mustPutConnection(t, s, newConnection("a1", "alice"))
	var want []store.AuditEvent
	want = append(want, mustAppend(t, s, newEvent(0, "action.created", "a1", "")))
	want = append(want, mustAppend(t, s, newEvent(1, "connection.created", "a1", "alice")))
	want = append(want, mustAppend(t, s, newEvent(2, "action.created", "never-existed", "")))
	if err := s.DeleteAction(ctx, "a1"); err != nil {
		t.Fatalf("DeleteAction: %v", err)
	}
	want = append(want, mustAppend(t, s, newEvent(3, "action.deleted", "a1", "")))
	got := mustListAudit(t, s, store.AuditFilter{})
	if len(got) != len(want) {
		t.Fatalf("ListAudit after DeleteAction: %v, want %v", eventIDs(got), eventIDs(want))
	}
	for i := range want {
		checkEqual(t, fmt.Sprintf("ListAudit[%d]", i), got[i], want[i])
	}
	if got := mustListAudit(t, s, store.AuditFilter{ActionID: "a1"}); len(got) != 3 {
		t.Errorf("ListAudit(a1) after DeleteAction: %v, want 3 events", eventIDs(got))
	}
}
