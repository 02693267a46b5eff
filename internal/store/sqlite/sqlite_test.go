package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/actiongate/actiongate/internal/store"
	"github.com/actiongate/actiongate/internal/store/schema"
	"github.com/actiongate/actiongate/internal/store/storetest"
)

// openAt opens the database at path and closes it when the test ends.
func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func openTemp(t testing.TB) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "actiongate.db"))
}

// TestConformance runs the suite with RewrapAll reading two rows at a time, so
// that its small data sets span several batches; TestRewrapAllDefaultBatch
// covers the default size.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openTemp(t)
		s.rewrapBatch = 2
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "actiongate.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 1000, time.UTC)
	a := store.Action{ID: "a1", Name: "One", AuthType: "none", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateAction(ctx, a); err != nil {
		t.Fatalf("CreateAction: %v", err)
	}
	c := store.Connection{ActionID: "a1", User: "alice", AccessToken: []byte("tok"), Status: store.StatusConnected, CreatedAt: now, UpdatedAt: now}
	if err := s.PutConnection(ctx, c); err != nil {
		t.Fatalf("PutConnection: %v", err)
	}
	if err := s.PutMeta(ctx, "key_check", []byte("kc")); err != nil {
		t.Fatalf("PutMeta: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openAt(t, path)
	if got, err := s.GetAction(ctx, "a1"); err != nil || got.Name != "One" || !got.CreatedAt.Equal(now) {
		t.Errorf("GetAction after reopen = %+v, %v", got, err)
	}
	if got, err := s.GetConnection(ctx, "a1", "alice"); err != nil || string(got.AccessToken) != "tok" {
		t.Errorf("GetConnection after reopen = %+v, %v", got, err)
	}
	if got, err := s.GetMeta(ctx, "key_check"); err != nil || string(got) != "kc" {
		t.Errorf("GetMeta after reopen = %q, %v", got, err)
	}
}

func TestPutUnknownAction(t *testing.T) {
	s := openTemp(t)
	err := s.PutConnection(t.Context(), store.Connection{ActionID: "missing", User: "alice"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutConnection for a missing action: %v, want ErrNotFound", err)
	}
	err = s.PutSignInState(t.Context(), store.SignInState{Hash: "h", ActionID: "missing"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutSignInState for a missing action: %v, want ErrNotFound", err)
	}
}

func TestPathIsEscaped(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%20d e")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x?y.db")
	s := openAt(t, path)
	if err := s.PutMeta(t.Context(), "k", []byte("v")); err != nil {
		t.Fatalf("PutMeta: %v", err)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at the path given: %v", err)
	}
}

func TestPragmas(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	check := func(db *sql.DB, pool string, want map[string]string) {
		t.Helper()
		// Hold several connections at once so that each is a different one.
		var conns []*sql.Conn
		for range 3 {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			for name, w := range want {
				var got string
				if err := c.QueryRowContext(ctx, "PRAGMA "+name).Scan(&got); err != nil {
					t.Fatalf("%s pool: PRAGMA %s: %v", pool, name, err)
				}
				if got != w {
					t.Errorf("%s pool: %s = %s, want %s", pool, name, got, w)
				}
			}
			if db == s.write {
				break // it has one connection: a second Conn would wait forever
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}
	common := map[string]string{"journal_mode": "wal", "foreign_keys": "1", "synchronous": "1", "busy_timeout": "5000"}
	check(s.write, "write", common)
	common["query_only"] = "1"
	check(s.read, "read", common)
}

func TestCloseCheckpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "actiongate.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for i := range 100 {
		if err := s.PutMeta(t.Context(), fmt.Sprint(i), make([]byte, 1000)); err != nil {
			t.Fatalf("PutMeta: %v", err)
		}
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("before Close the log should hold the writes: %v, %v", fi, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if fi, err := os.Stat(path + suffix); err == nil && fi.Size() != 0 {
			t.Errorf("after Close %s holds %d bytes, want it gone or empty", suffix, fi.Size())
		}
	}
}

func TestMigrate(t *testing.T) {
	const (
		v1 = `CREATE TABLE a (x INTEGER) STRICT;`
		v2 = `CREATE TABLE b (x INTEGER) STRICT; INSERT INTO a VALUES (1);`
	)
	ctx := t.Context()
	db, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "m.db"), "_txlock=immediate"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	count := func(table string) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		return n
	}
	version := func() int {
		t.Helper()
		var v int
		if err := db.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}

	if err := migrate(ctx, db, fstest.MapFS{"migrations/0001_a.sql": {Data: []byte(v1)}}); err != nil {
		t.Fatalf("migrate to 1: %v", err)
	}
	two := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte(v1)},
		"migrations/0002_b.sql": {Data: []byte(v2)},
	}
	for range 2 { // the second run has nothing to do
		if err := migrate(ctx, db, two); err != nil {
			t.Fatalf("migrate to 2: %v", err)
		}
	}
	if v, n := version(), count("a"); v != 2 || n != 1 {
		t.Errorf("after migrating to 2: version %d with %d rows in a, want 2 and 1 (each migration run once)", v, n)
	}
	if n := count("schema_migrations"); n != 2 {
		t.Errorf("schema_migrations has %d rows, want 2", n)
	}

	// A failing migration leaves the database as it was, earlier ones included.
	bad := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte(v1)},
		"migrations/0002_b.sql": {Data: []byte(v2)},
		"migrations/0003_c.sql": {Data: []byte(`CREATE TABLE c (x INTEGER);`)},
		"migrations/0004_d.sql": {Data: []byte(`INSERT INTO nowhere VALUES (1);`)},
	}
	if err := migrate(ctx, db, bad); err == nil {
		t.Fatal("migrate with a broken migration: no error")
	}
	if v := version(); v != 2 {
		t.Errorf("after a failed migration: version %d, want 2", v)
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM c").Scan(new(int)); err == nil {
		t.Error("table c exists after its migration run was rolled back")
	}

	// A database from a newer binary is refused.
	err = migrate(ctx, db, fstest.MapFS{"migrations/0001_a.sql": {Data: []byte(v1)}})
	if !errors.Is(err, errSchemaTooNew) {
		t.Errorf("migrate with fewer migrations than applied: %v, want errSchemaTooNew", err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "actiongate.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.write.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err = Open(t.Context(), path)
	if !errors.Is(err, errSchemaTooNew) {
		t.Fatalf("Open of a database from a newer binary: %v, want errSchemaTooNew", err)
	}
	t.Logf("Open says: %v", err)
}

// TestEmbeddedMigrations: the migrations built into the binary load (their
// names and order are checked by package schema).
func TestEmbeddedMigrations(t *testing.T) {
	ms, err := schema.LoadMigrations(migrations)
	if err != nil || len(ms) == 0 {
		t.Fatalf("embedded migrations: %d, %v", len(ms), err)
	}
}

// BenchmarkGetConnection reads random connections out of 100,000
// (1,000 actions × 100 users).
func BenchmarkGetConnection(b *testing.B) {
	const actions, users = 1000, 100
	s := openTemp(b)
	ctx := b.Context()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UnixMicro()
	for a := range actions {
		_, err := tx.Exec(`INSERT INTO actions (`+actionColumns+`) VALUES (?, ?, '{}', '', 'oauth', NULL, NULL, ?, ?)`,
			fmt.Sprintf("action-%04d", a), "A", now, now)
		if err != nil {
			b.Fatal(err)
		}
	}
	stmt, err := tx.Prepare(`INSERT INTO connections (` + connectionColumns + `) VALUES (?, ?, ?, ?, 'read', ?, 'connected', ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	token := make([]byte, 200)
	for a := range actions {
		for u := range users {
			if _, err := stmt.Exec(fmt.Sprintf("action-%04d", a), fmt.Sprintf("user-%03d@example.com", u),
				token, token, now, now, now); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}

	get := func(r *rand.Rand) {
		a, u := r.IntN(actions), r.IntN(users)
		if _, err := s.GetConnection(ctx, fmt.Sprintf("action-%04d", a), fmt.Sprintf("user-%03d@example.com", u)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			get(r)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 2))
			for pb.Next() {
				get(r)
			}
		})
	})
}
