package sqlite

import (
	"bytes"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

// TestRewrapAllDefaultBatch runs RewrapAll at its default batch size over more
// than two batches of each table, with rows lacking values in between.
func TestRewrapAllDefaultBatch(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	const n = 2*defaultRewrapBatch + 1
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMicro()
	want := map[string]bool{}
	value := func(kind string, i int) any {
		if i%7 == 3 {
			return nil // no value: not visited
		}
		v := fmt.Sprintf("old:%s-%04d", kind, i)
		want[v] = true
		return []byte(v)
	}
	for i := range n {
		id := fmt.Sprintf("action-%04d", i)
		if _, err := tx.Exec(`INSERT INTO actions (`+actionColumns+`) VALUES (?, 'A', '{}', '', 'oauth', NULL, ?, ?, ?)`,
			id, value("secret", i), now, now); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO connections (`+connectionColumns+`) VALUES ('action-0000', ?, ?, ?, '', NULL, 'connected', ?, ?)`,
			fmt.Sprintf("user-%04d", i), value("access", i), value("refresh", i+1), now, now); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO sign_in_states (`+signInStateColumns+`) VALUES (?, 'action-0000', 'u', ?, ?, ?)`,
			fmt.Sprintf("hash-%04d", i), value("verifier", i+2), now, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
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

// TestUpgradeFromV1 opens a database written by a version with only the first
// migration: its data stays, and the tables of the second work.
func TestUpgradeFromV1(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "actiongate.db")
	v1, err := fs.ReadFile(migrations, "migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, "_txlock=immediate", "_pragma=journal_mode(WAL)"))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, fstest.MapFS{"migrations/0001_init.sql": {Data: v1}}); err != nil {
		t.Fatalf("migrate to 1: %v", err)
	}
	if _, err := db.Exec(`INSERT INTO actions (` + actionColumns + `) VALUES ('a1', 'A', '{}', '', 'api_key', NULL, x'0102', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openAt(t, path)
	var version int
	if err := s.read.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&version); err != nil || version != 2 {
		t.Fatalf("schema version %d, %v; want 2", version, err)
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
