package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

func testCreateGetAction(t *testing.T, s store.Store) {
	want := newAction("a1", t0)
	mustCreateAction(t, s, want)
	got, err := s.GetAction(t.Context(), "a1")
	if err != nil {
		t.Fatalf("GetAction: %v", err)
	}
	checkEqual(t, "GetAction", got, want)
}

func testCreateActionConflict(t *testing.T, s store.Store) {
	want := newAction("a1", t0)
	mustCreateAction(t, s, want)
	other := newAction("a1", t0.Add(time.Hour))
	other.Name = "Other"
	wantErr(t, "CreateAction with an existing ID", s.CreateAction(t.Context(), other), store.ErrConflict)
	got, err := s.GetAction(t.Context(), "a1")
	if err != nil {
		t.Fatalf("GetAction: %v", err)
	}
	checkEqual(t, "GetAction after conflict", got, want)
}

func testGetActionNotFound(t *testing.T, s store.Store) {
	_, err := s.GetAction(t.Context(), "missing")
	wantErr(t, "GetAction(missing)", err, store.ErrNotFound)
}

func testListActions(t *testing.T, s store.Store) {
	got, err := s.ListActions(t.Context())
	if err != nil || len(got) != 0 {
		t.Fatalf("ListActions on an empty store = %v, %v; want none", got, err)
	}
	// Inserted out of order; "b" and "c" share a CreatedAt, so ID breaks the tie.
	for _, a := range []store.Action{
		newAction("c", t0.Add(time.Second)),
		newAction("a", t0.Add(2*time.Second)),
		newAction("d", t0),
		newAction("b", t0.Add(time.Second)),
	} {
		mustCreateAction(t, s, a)
	}
	got, err = s.ListActions(t.Context())
	if err != nil {
		t.Fatalf("ListActions: %v", err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.ID)
	}
	if want := []string{"d", "b", "c", "a"}; !slices.Equal(ids, want) {
		t.Fatalf("ListActions order = %v, want %v", ids, want)
	}
	checkEqual(t, "ListActions[0]", got[0], newAction("d", t0))
}

func testUpdateAction(t *testing.T, s store.Store) {
	orig := newAction("a1", t0)
	mustCreateAction(t, s, orig)
	calls := 0
	got, err := s.UpdateAction(t.Context(), "a1", func(a *store.Action) error {
		calls++
		checkEqual(t, "fn argument", *a, orig)
		a.Name = "Renamed"
		a.Secret = nil
		a.UpdatedAt = t0.Add(time.Hour)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateAction: %v", err)
	}
	if calls != 1 {
		t.Errorf("fn called %d times, want 1", calls)
	}
	want := orig
	want.Name = "Renamed"
	want.Secret = nil
	want.UpdatedAt = t0.Add(time.Hour)
	checkEqual(t, "UpdateAction result", got, want)
	stored, err := s.GetAction(t.Context(), "a1")
	if err != nil {
		t.Fatalf("GetAction: %v", err)
	}
	checkEqual(t, "GetAction after update", stored, want)
}

func testUpdateActionFnError(t *testing.T, s store.Store) {
	orig := newAction("a1", t0)
	mustCreateAction(t, s, orig)
	_, err := s.UpdateAction(t.Context(), "a1", func(a *store.Action) error {
		a.Name = "Changed"
		a.Secret = []byte("changed")
		return errFn
	})
	if err != errFn {
		t.Errorf("UpdateAction error = %v, want fn's error returned as is", err)
	}
	got, err := s.GetAction(t.Context(), "a1")
	if err != nil {
		t.Fatalf("GetAction: %v", err)
	}
	checkEqual(t, "GetAction after failed update", got, orig)
}

func testUpdateActionNotFound(t *testing.T, s store.Store) {
	_, err := s.UpdateAction(t.Context(), "missing", func(*store.Action) error {
		t.Error("fn called for a missing action")
		return nil
	})
	wantErr(t, "UpdateAction(missing)", err, store.ErrNotFound)
}

func testUpdateActionConcurrent(t *testing.T, s store.Store) {
	mustCreateAction(t, s, newAction("a1", t0))
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Go(func() {
			_, err := s.UpdateAction(t.Context(), "a1", func(a *store.Action) error {
				a.Name += fmt.Sprintf(" n%d", i)
				return nil
			})
			if err != nil {
				t.Errorf("UpdateAction %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got, err := s.GetAction(t.Context(), "a1")
	if err != nil {
		t.Fatalf("GetAction: %v", err)
	}
	checkAllAppended(t, strings.TrimPrefix(got.Name, "Action a1"), "n")
}

func testDeleteAction(t *testing.T, s store.Store) {
	wantErr(t, "DeleteAction(missing)", s.DeleteAction(t.Context(), "missing"), store.ErrNotFound)
	mustCreateAction(t, s, newAction("a1", t0))
	mustCreateAction(t, s, newAction("a2", t0))
	if err := s.DeleteAction(t.Context(), "a1"); err != nil {
		t.Fatalf("DeleteAction: %v", err)
	}
	_, err := s.GetAction(t.Context(), "a1")
	wantErr(t, "GetAction after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteAction twice", s.DeleteAction(t.Context(), "a1"), store.ErrNotFound)
	if _, err := s.GetAction(t.Context(), "a2"); err != nil {
		t.Errorf("GetAction of the other action: %v", err)
	}
}

func testDeleteActionCascades(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateAction(t, s, newAction("a1", t0))
	mustCreateAction(t, s, newAction("a2", t0))
	mustPutConnection(t, s, newConnection("a1", "alice"))
	mustPutConnection(t, s, newConnection("a1", "bob"))
	mustPutConnection(t, s, newConnection("a2", "alice"))
	mustPutSignInState(t, s, newSignInState("h1", "a1", t0.Add(time.Hour)))
	mustPutSignInState(t, s, newSignInState("h2", "a2", t0.Add(time.Hour)))

	if err := s.DeleteAction(ctx, "a1"); err != nil {
		t.Fatalf("DeleteAction: %v", err)
	}
	for _, user := range []string{"alice", "bob"} {
		_, err := s.GetConnection(ctx, "a1", user)
		wantErr(t, "GetConnection of a deleted action's connection", err, store.ErrNotFound)
	}
	_, err := s.TakeSignInState(ctx, "h1")
	wantErr(t, "TakeSignInState of a deleted action's state", err, store.ErrNotFound)

	// The other action keeps its records.
	if _, err := s.GetConnection(ctx, "a2", "alice"); err != nil {
		t.Errorf("GetConnection of the other action: %v", err)
	}
	if _, err := s.TakeSignInState(ctx, "h2"); err != nil {
		t.Errorf("TakeSignInState of the other action: %v", err)
	}

	// Re-creating the ID does not bring the old connections back.
	mustCreateAction(t, s, newAction("a1", t0))
	for _, user := range []string{"alice", "bob"} {
		list, err := s.ListConnections(ctx, user)
		if err != nil {
			t.Fatalf("ListConnections(%q): %v", user, err)
		}
		for _, c := range list {
			if c.ActionID == "a1" {
				t.Errorf("connection (a1, %s) survived the deletion of a1", user)
			}
		}
	}
}
