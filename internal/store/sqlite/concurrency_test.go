package sqlite

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

// TestTwoStoresOneFile has two Stores, standing in for two processes, update the
// same row at once: transactions that begin IMMEDIATE wait for each other under
// busy_timeout instead of failing with SQLITE_BUSY, and no update is lost.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "actiongate.db")
	stores := []*Store{openAt(t, path), openAt(t, path)}
	now := time.Now()
	if err := stores[0].CreateAction(ctx, store.Action{ID: "a1", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := stores[0].PutConnection(ctx, store.Connection{ActionID: "a1", User: "alice", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	const perStore = 50
	var wg sync.WaitGroup
	for i, s := range stores {
		for j := range perStore {
			wg.Go(func() {
				_, err := s.UpdateConnection(ctx, "a1", "alice", func(c *store.Connection) error {
					c.Scope += fmt.Sprintf(" %d.%d", i, j)
					return nil
				})
				if err != nil {
					t.Errorf("UpdateConnection: %v", err)
				}
			})
			wg.Go(func() {
				if _, err := s.GetConnection(ctx, "a1", "alice"); err != nil {
					t.Errorf("GetConnection: %v", err)
				}
			})
		}
	}
	wg.Wait()
	c, err := stores[1].GetConnection(ctx, "a1", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(c.Scope)); n != 2*perStore {
		t.Errorf("%d updates kept, want %d", n, 2*perStore)
	}
}

// TestFnPanic checks that a panicking fn does not keep the write connection.
func TestFnPanic(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	now := time.Now()
	if err := s.CreateAction(ctx, store.Action{ID: "a1", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() { recover() }()
		s.UpdateAction(ctx, "a1", func(a *store.Action) error {
			a.Name = "changed"
			panic("boom")
		})
	}()
	done := make(chan error)
	go func() { done <- s.PutMeta(ctx, "k", []byte("v")) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("PutMeta after a panic in fn: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("PutMeta after a panic in fn still waits for the write connection")
	}
	if a, err := s.GetAction(ctx, "a1"); err != nil || a.Name != "" {
		t.Errorf("GetAction after a panic in fn = %+v, %v; want it unchanged", a, err)
	}
}
