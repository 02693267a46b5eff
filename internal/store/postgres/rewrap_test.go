package postgres

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/actiongate/actiongate/internal/store"
)

// TestRewrapAllDefaultBatch runs RewrapAll at its default batch size over more
// than two batches of each table, with rows lacking values in between.
func TestRewrapAllDefaultBatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	const n = 2*defaultRewrapBatch + 1
	now := time.Now()
	want := map[string]bool{}
	value := func(kind string, i int) any {
		if i%7 == 3 {
			return nil // no value: not visited
		}
		v := fmt.Sprintf("old:%s-%04d", kind, i)
		want[v] = true
		return []byte(v)
	}
	var actions, conns, states [][]any
	for i := range n {
		actions = append(actions, []any{fmt.Sprintf("action-%04d", i), "A", "{}", "", "oauth", value("secret", i), now, now})
		conns = append(conns, []any{"action-0000", fmt.Sprintf("user-%04d", i), value("access", i), value("refresh", i+1),
			"", "connected", now, now})
		states = append(states, []any{fmt.Sprintf("hash-%04d", i), "action-0000", "u", value("verifier", i+2), now, now})
	}
	for _, c := range []struct {
		table   string
		columns []string
		rows    [][]any
	}{
		{"actions", []string{"id", "name", "openapi_schema", "server_url", "auth_type", "secret", "created_at", "updated_at"}, actions},
		{"connections", []string{"action_id", "user_id", "access_token", "refresh_token", "scope", "status", "created_at", "updated_at"}, conns},
		{"sign_in_states", strings.Split(signInStateColumns, ", "), states},
	} {
		if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{c.table}, c.columns, pgx.CopyFromRows(c.rows)); err != nil {
			t.Fatalf("copy %s: %v", c.table, err)
		}
	}

	for run, prefix := range []string{"old:", "new:"} {
		seen := map[string]int{}
		replaced, err := s.RewrapAll(ctx, func(v []byte) ([]byte, bool, error) {
			seen[string(v)]++
			if rest, ok := bytes.CutPrefix(v, []byte("old:")); ok {
				return append([]byte("new:"), rest...), true, nil
			}
			return nil, false, nil
		})
		if err != nil {
			t.Fatalf("run %d: RewrapAll: %v", run, err)
		}
		if wantN := map[int]int{0: len(want), 1: 0}[run]; replaced != wantN {
			t.Errorf("run %d: replaced %d values, want %d", run, replaced, wantN)
		}
		if len(seen) != len(want) {
			t.Errorf("run %d: %d distinct values visited, want %d", run, len(seen), len(want))
		}
		for v, k := range seen {
			if k != 1 || !strings.HasPrefix(v, prefix) || !want["old:"+strings.TrimPrefix(v, prefix)] {
				t.Errorf("run %d: %q visited %d times", run, v, k)
			}
		}
	}
}

// TestUpgradeFromV1 opens a schema written by a version with only the first
// migration: its data stays, and the tables of the second work.
func TestUpgradeFromV1(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u, _ := newSchema(t)
	v1, err := fs.ReadFile(migrations, "migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, conn, fstest.MapFS{"migrations/0001_init.sql": {Data: v1}}); err != nil {
		t.Fatalf("migrate to 1: %v", err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO actions (`+actionColumns+`) VALUES ('a1', 'A', '{}', '', 'api_key', NULL, '\x0102', now(), now())`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	s := openAt(t, u)
	if got, want := schemaVersions(t, s), embeddedVersions(t); len(got) != 2 || len(want) != 2 {
		t.Fatalf("schema versions %v, embedded %v; want 2 of each", got, want)
	}
	if a, err := s.GetAction(ctx, "a1"); err != nil || !bytes.Equal(a.Secret, []byte{1, 2}) {
		t.Errorf("GetAction after the upgrade = %+v, %v", a, err)
	}
	now := time.Now()
	if err := s.CreateToken(ctx, store.Token{ID: "t1", Hash: []byte("h"), CreatedAt: now}); err != nil {
		t.Errorf("CreateToken after the upgrade: %v", err)
	}
	if _, err := s.AppendAudit(ctx, store.AuditEvent{Time: now, Type: "x"}); err != nil {
		t.Errorf("AppendAudit after the upgrade: %v", err)
	}
	n, err := s.RewrapAll(ctx, func(v []byte) ([]byte, bool, error) { return []byte{3}, true, nil })
	if err != nil || n != 1 {
		t.Errorf("RewrapAll after the upgrade = %d, %v; want 1, nil", n, err)
	}
}

// TestRewrapAllKeyOrder pages one row at a time through keys whose order
// differs between byte value and common collations: the comparison that
// pages and the ORDER BY agree, so each row is visited once.
func TestRewrapAllKeyOrder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	s.rewrapBatch = 1
	now := time.Now()
	ids := []string{"é", "b", "Z", "a", "B", "a-b", "a_b", "ab", "A b"}
	for _, id := range ids {
		if err := s.CreateAction(ctx, store.Action{ID: id, Secret: []byte("s:" + id), CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		for _, user := range ids {
			c := store.Connection{ActionID: id, User: user, AccessToken: []byte("a:" + id + "/" + user), CreatedAt: now, UpdatedAt: now}
			if err := s.PutConnection(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	seen := map[string]int{}
	if _, err := s.RewrapAll(ctx, func(v []byte) ([]byte, bool, error) {
		seen[string(v)]++
		return nil, false, nil
	}); err != nil {
		t.Fatalf("RewrapAll: %v", err)
	}
	if want := len(ids) + len(ids)*len(ids); len(seen) != want {
		t.Errorf("%d values visited, want %d", len(seen), want)
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("%q visited %d times", v, n)
		}
	}
}
