package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

func testPutGetConnection(t *testing.T, s store.Store) {
	mustCreateAction(t, s, newAction("a1", t0))
	want := newConnection("a1", "alice")
	mustPutConnection(t, s, want)
	got, err := s.GetConnection(t.Context(), "a1", "alice")
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	checkEqual(t, "GetConnection", got, want)
}

func testPutConnectionReplaces(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateAction(t, s, newAction("a1", t0))
	first := newConnection("a1", "alice")
	mustPutConnection(t, s, first)

	second := store.Connection{
		ActionID:    "a1",
		User:        "alice",
		AccessToken: []byte("sealed-access-2"),
		Scope:       "read write",
		Status:      store.StatusNeedsReauth,
		CreatedAt:   t0.Add(time.Hour),
		UpdatedAt:   t0.Add(time.Hour),
	}
	mustPutConnection(t, s, second)

	// Every field is replaced (nothing is merged from the first), except CreatedAt.
	want := second
	want.CreatedAt = first.CreatedAt
	got, err := s.GetConnection(ctx, "a1", "alice")
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	checkEqual(t, "GetConnection after replace", got, want)

	list, err := s.ListConnections(ctx, "alice")
	if err != nil {
		t.Fatalf("ListConnections: %v", err)
	}
	if len(list) != 1 {
		t.Fatalf("ListConnections after replace returned %d connections, want 1", len(list))
	}
	checkEqual(t, "ListConnections after replace", list[0], want)
}

func testGetConnectionNotFound(t *testing.T, s store.Store) {
	mustCreateAction(t, s, newAction("a1", t0))
	mustPutConnection(t, s, newConnection("a1", "alice"))
	for _, k := range [][2]string{{"a1", "bob"}, {"a2", "alice"}, {"missing", "nobody"}} {
		_, err := s.GetConnection(t.Context(), k[0], k[1])
		wantErr(t, fmt.Sprintf("GetConnection(%q, %q)", k[0], k[1]), err, store.ErrNotFound)
	}
}

func testListConnections(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.ListConnections(ctx, "alice")
	if err != nil || len(got) != 0 {
		t.Fatalf("ListConnections on an empty store = %v, %v; want none", got, err)
	}
	for _, id := range []string{"c", "a", "b"} {
		mustCreateAction(t, s, newAction(id, t0))
	}
	// Inserted out of ActionID order, with another user's connections interleaved.
	for _, c := range []store.Connection{
		newConnection("c", "alice"),
		newConnection("b", "bob"),
		newConnection("a", "alice"),
		newConnection("b", "alice"),
		newConnection("c", "bob"),
	} {
		mustPutConnection(t, s, c)
	}
	tests := []struct {
		user string
		want []string
	}{
		{"alice", []string{"a", "b", "c"}},
		{"bob", []string{"b", "c"}},
		{"carol", nil},
	}
	for _, tc := range tests {
		got, err := s.ListConnections(ctx, tc.user)
		if err != nil {
			t.Fatalf("ListConnections(%q): %v", tc.user, err)
		}
		var ids []string
		for _, c := range got {
			if c.User != tc.user {
				t.Errorf("ListConnections(%q) returned a connection of %q", tc.user, c.User)
			}
			ids = append(ids, c.ActionID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("ListConnections(%q) = %v, want %v", tc.user, ids, tc.want)
		}
	}
	got, _ = s.ListConnections(ctx, "alice")
	checkEqual(t, "ListConnections[0]", got[0], newConnection("a", "alice"))
}

func testUpdateConnection(t *testing.T, s store.Store) {
	mustCreateAction(t, s, newAction("a1", t0))
	orig := newConnection("a1", "alice")
	mustPutConnection(t, s, orig)
	calls := 0
	got, err := s.UpdateConnection(t.Context(), "a1", "alice", func(c *store.Connection) error {
		calls++
		checkEqual(t, "fn argument", *c, orig)
		c.AccessToken = []byte("sealed-access-2")
		c.RefreshToken = nil
		c.ExpiresAt = time.Time{}
		c.Status = store.StatusNeedsReauth
		c.UpdatedAt = t0.Add(time.Hour)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateConnection: %v", err)
	}
	if calls != 1 {
		t.Errorf("fn called %d times, want 1", calls)
	}
	want := orig
	want.AccessToken = []byte("sealed-access-2")
	want.RefreshToken = nil
	want.ExpiresAt = time.Time{}
	want.Status = store.StatusNeedsReauth
	want.UpdatedAt = t0.Add(time.Hour)
	checkEqual(t, "UpdateConnection result", got, want)
	stored, err := s.GetConnection(t.Context(), "a1", "alice")
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	checkEqual(t, "GetConnection after update", stored, want)
}

func testUpdateConnectionFnError(t *testing.T, s store.Store) {
	mustCreateAction(t, s, newAction("a1", t0))
	orig := newConnection("a1", "alice")
	mustPutConnection(t, s, orig)
	_, err := s.UpdateConnection(t.Context(), "a1", "alice", func(c *store.Connection) error {
		c.AccessToken = []byte("changed")
		c.Status = store.StatusNeedsReauth
		return errFn
	})
	if err != errFn {
		t.Errorf("UpdateConnection error = %v, want fn's error returned as is", err)
	}
	got, err := s.GetConnection(t.Context(), "a1", "alice")
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	checkEqual(t, "GetConnection after failed update", got, orig)
}

func testUpdateConnectionNotFound(t *testing.T, s store.Store) {
	mustCreateAction(t, s, newAction("a1", t0))
	for _, k := range [][2]string{{"a1", "alice"}, {"missing", "alice"}} {
		_, err := s.UpdateConnection(t.Context(), k[0], k[1], func(*store.Connection) error {
			t.Error("fn called for a missing connection")
			return nil
		})
		wantErr(t, fmt.Sprintf("UpdateConnection(%q, %q)", k[0], k[1]), err, store.ErrNotFound)
	}
}

func testUpdateConnectionConcurrent(t *testing.T, s store.Store) {
	mustCreateAction(t, s, newAction("a1", t0))
	c := newConnection("a1", "alice")
	c.Scope = ""
	mustPutConnection(t, s, c)
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Go(func() {
			_, err := s.UpdateConnection(t.Context(), "a1", "alice", func(c *store.Connection) error {
				c.Scope += fmt.Sprintf(" s%d", i)
				return nil
			})
			if err != nil {
				t.Errorf("UpdateConnection %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got, err := s.GetConnection(t.Context(), "a1", "alice")
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	checkAllAppended(t, got.Scope, "s")
}

func testDeleteConnection(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateAction(t, s, newAction("a1", t0))
	wantErr(t, "DeleteConnection(missing)", s.DeleteConnection(ctx, "a1", "alice"), store.ErrNotFound)
	mustPutConnection(t, s, newConnection("a1", "alice"))
	mustPutConnection(t, s, newConnection("a1", "bob"))
	if err := s.DeleteConnection(ctx, "a1", "alice"); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	_, err := s.GetConnection(ctx, "a1", "alice")
	wantErr(t, "GetConnection after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteConnection twice", s.DeleteConnection(ctx, "a1", "alice"), store.ErrNotFound)
	if _, err := s.GetConnection(ctx, "a1", "bob"); err != nil {
		t.Errorf("GetConnection of another user: %v", err)
	}
	if _, err := s.GetAction(ctx, "a1"); err != nil {
		t.Errorf("GetAction after DeleteConnection: %v", err)
	}
}
