package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/actiongate/actiongate/internal/store/schema"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/actiongate/actiongate/internal/store"
	"github.com/actiongate/actiongate/internal/store/storetest"
)

// envURL names the variable holding the URL of the PostgreSQL server that the
// tests use, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
// Without it the tests that need a server are skipped.
const envURL = "ACTIONGATE_TEST_DATABASE_URL"

func serverURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(envURL)
	if u == "" {
		t.Skip(envURL + " not set: PostgreSQL tests skipped")
	}
	return u
}

// withParams returns the connection string u with the given settings added, in
// URL or keyword/value form like u.
func withParams(t testing.TB, u string, kv ...string) string {
	t.Helper()
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatalf("%s: %v", envURL, err)
		}
		q := p.Query()
		for i := 0; i < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		p.RawQuery = q.Encode()
		return p.String()
	}
	for i := 0; i < len(kv); i += 2 {
		u += " " + kv[i] + "=" + kv[i+1]
	}
	return u
}

// adminExec runs sql on a connection of its own to the test server.
func adminExec(ctx context.Context, t testing.TB, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(ctx, serverURL(t))
	if err != nil {
		t.Fatalf("connect to %s: %v", envURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// newSchema creates an empty schema of its own for the test and returns a
// connection string whose connections work in it, naming themselves after it
// in pg_stat_activity. The schema is dropped when the test ends, after the
// cleanups registered later (closing stores) have run.
func newSchema(t testing.TB) (connString, schema string) {
	t.Helper()
	base := serverURL(t)
	schema = "t_" + hex.EncodeToString(randomBytes(8))
	adminExec(t.Context(), t, "CREATE SCHEMA "+schema)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		adminExec(ctx, t, "DROP SCHEMA "+schema+" CASCADE")
	})
	return withParams(t, base, "search_path", schema, "application_name", schema), schema
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// openAt opens the store at connString and closes it when the test ends.
func openAt(t testing.TB, connString string) *Store {
	t.Helper()
	s, err := Open(t.Context(), connString)
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

// openTest opens a store in a new, empty schema.
func openTest(t testing.TB) *Store {
	t.Helper()
	u, _ := newSchema(t)
	return openAt(t, u)
}

// TestConformance runs the suite with RewrapAll reading two rows at a time, so
// that its small data sets span several batches; TestRewrapAllDefaultBatch
// covers the default size.
func TestConformance(t *testing.T) {
	serverURL(t)
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openTest(t)
		s.rewrapBatch = 2
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u, _ := newSchema(t)
	s, err := Open(ctx, u)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 1000, time.UTC)
	if err := s.CreateAction(ctx, store.Action{ID: "a1", Name: "One", AuthType: "none", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatalf("CreateAction: %v", err)
	}
	if err := s.PutMeta(ctx, "key_check", []byte("kc")); err != nil {
		t.Fatalf("PutMeta: %v", err)
	}
	s.Close()

	s = openAt(t, u)
	if got, err := s.GetAction(ctx, "a1"); err != nil || got.Name != "One" || !got.CreatedAt.Equal(now) {
		t.Errorf("GetAction after reopen = %+v, %v", got, err)
	}
	if got, err := s.GetMeta(ctx, "key_check"); err != nil || string(got) != "kc" {
		t.Errorf("GetMeta after reopen = %q, %v", got, err)
	}
}

// schemaVersions returns the versions recorded in the schema of s.
func schemaVersions(t *testing.T, s *Store) []int {
	t.Helper()
	rows, _ := s.pool.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatalf("schema_migrations: %v", err)
	}
	return vs
}

func embeddedVersions(t *testing.T) []int {
	t.Helper()
	ms, err := schema.LoadMigrations(migrations)
	if err != nil {
		t.Fatal(err)
	}
	var vs []int
	for _, m := range ms {
		vs = append(vs, m.Version)
	}
	return vs
}

// TestMigrateIdempotent opens, reopens and migrates one schema several times:
// each migration is applied once, and the pool settings of the URL are no
// trouble for Migrate.
func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u, _ := newSchema(t)
	u = withParams(t, u, "pool_max_conns", "3")
	for range 2 {
		if err := Migrate(ctx, u); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	s1 := openAt(t, u)
	s2 := openAt(t, u)
	if err := Migrate(ctx, u); err != nil {
		t.Fatalf("Migrate with stores open: %v", err)
	}
	if got, want := schemaVersions(t, s2), embeddedVersions(t); !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}
	if err := s1.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// TestConcurrentOpen starts several replicas at once on a fresh schema: the
// advisory lock has them take turns, so every Open succeeds and the migrations
// are applied once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	const replicas = 5
	u, _ := newSchema(t)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		stores []*Store
	)
	start := make(chan struct{})
	for i := range replicas {
		wg.Go(func() {
			<-start
			s, err := Open(t.Context(), u)
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				return
			}
			mu.Lock()
			stores = append(stores, s)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	for _, s := range stores {
		t.Cleanup(func() { s.Close() })
	}
	if len(stores) != replicas {
		t.FailNow()
	}
	if got, want := schemaVersions(t, stores[0]), embeddedVersions(t); !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}
	now := time.Now()
	if err := stores[1].CreateAction(t.Context(), store.Action{ID: "a1", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[4].GetAction(t.Context(), "a1"); err != nil {
		t.Errorf("GetAction through another replica: %v", err)
	}
}

// TestMigrate runs migrate on made-up migrations: each applies once, a failing
// one leaves the database as it was, and a database from a newer binary is
// refused.
func TestMigrate(t *testing.T) {
	t.Parallel()
	const (
		v1 = `CREATE TABLE a (x integer);`
		v2 = `CREATE TABLE b (x integer); INSERT INTO a VALUES (1);`
	)
	ctx := t.Context()
	u, _ := newSchema(t)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	count := func(table string) int {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		return n
	}
	version := func() int {
		t.Helper()
		var v int
		if err := conn.QueryRow(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}

	if err := migrate(ctx, conn, fstest.MapFS{"migrations/0001_a.sql": {Data: []byte(v1)}}); err != nil {
		t.Fatalf("migrate to 1: %v", err)
	}
	two := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte(v1)},
		"migrations/0002_b.sql": {Data: []byte(v2)},
	}
	for range 2 { // the second run has nothing to do
		if err := migrate(ctx, conn, two); err != nil {
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
		"migrations/0003_c.sql": {Data: []byte(`CREATE TABLE c (x integer);`)},
		"migrations/0004_d.sql": {Data: []byte(`INSERT INTO nowhere VALUES (1);`)},
	}
	if err := migrate(ctx, conn, bad); err == nil {
		t.Fatal("migrate with a broken migration: no error")
	}
	if v := version(); v != 2 {
		t.Errorf("after a failed migration: version %d, want 2", v)
	}
	var c *string
	if err := conn.QueryRow(ctx, "SELECT to_regclass('c')::text").Scan(&c); err != nil || c != nil {
		t.Errorf("table c exists after its migration run was rolled back (%v, %v)", c, err)
	}

	// A database from a newer binary is refused.
	err = migrate(ctx, conn, fstest.MapFS{"migrations/0001_a.sql": {Data: []byte(v1)}})
	if !errors.Is(err, errSchemaTooNew) {
		t.Errorf("migrate with fewer migrations than applied: %v, want errSchemaTooNew", err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	u, _ := newSchema(t)
	s, err := Open(t.Context(), u)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(t.Context(), u)
	if !errors.Is(err, errSchemaTooNew) {
		t.Fatalf("Open of a database from a newer binary: %v, want errSchemaTooNew", err)
	}
	t.Logf("Open says: %v", err)
	if err := Migrate(t.Context(), u); !errors.Is(err, errSchemaTooNew) {
		t.Errorf("Migrate of a database from a newer binary: %v, want errSchemaTooNew", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	if _, err := Open(ctx, ""); err == nil {
		t.Error("Open(\"\"): no error")
	}
	// A malformed URL: the error must not repeat the password.
	_, err := Open(ctx, "postgres://u:hunter2@host:notaport/db")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open of a malformed URL: %v", err)
	}
	// Nothing listens on port 1: Open fails, without waiting for ever.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = Open(ctx, "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=5")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open of an unreachable server: %v", err)
	}
	if err := Migrate(ctx, "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=5"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Migrate of an unreachable server: %v", err)
	}
}

func TestPutUnknownAction(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	err := s.PutConnection(t.Context(), store.Connection{ActionID: "missing", User: "alice"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutConnection for a missing action: %v, want ErrNotFound", err)
	}
	err = s.PutSignInState(t.Context(), store.SignInState{Hash: "h", ActionID: "missing"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutSignInState for a missing action: %v, want ErrNotFound", err)
	}
}

// TestByteOrder checks that IDs order by byte value, not by the database's
// collation: uppercase before lowercase, ASCII before other letters.
func TestByteOrder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	now := time.Now()
	ids := []string{"é", "b", "Z", "a", "B", "a-b", "a_b", "ab"}
	for _, id := range ids {
		if err := s.CreateAction(ctx, store.Action{ID: id, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutConnection(ctx, store.Connection{ActionID: id, User: "alice", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	want := slices.Clone(ids)
	slices.Sort(want) // Go orders strings by byte value
	actions, err := s.ListActions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conns, err := s.ListConnections(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var gotA, gotC []string
	for _, a := range actions {
		gotA = append(gotA, a.ID)
	}
	for _, c := range conns {
		gotC = append(gotC, c.ActionID)
	}
	if !slices.Equal(gotA, want) {
		t.Errorf("ListActions order = %q, want %q", gotA, want)
	}
	if !slices.Equal(gotC, want) {
		t.Errorf("ListConnections order = %q, want %q", gotC, want)
	}
}

// TestFnPanic checks that a panicking fn rolls back and gives its connection
// back, with a pool of one connection.
func TestFnPanic(t *testing.T) {
	t.Parallel()
	u, _ := newSchema(t)
	s := openAt(t, withParams(t, u, "pool_max_conns", "1"))
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
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.PutMeta(wctx, "k", []byte("v")); err != nil {
		t.Fatalf("PutMeta after a panic in fn: %v", err)
	}
	if a, err := s.GetAction(ctx, "a1"); err != nil || a.Name != "" {
		t.Errorf("GetAction after a panic in fn = %+v, %v; want it unchanged", a, err)
	}
}

// TestTwoStoresOneDatabase has two Stores, standing in for two replicas, update
// the same row at once: the row lock makes them take turns and no update is
// lost.
func TestTwoStoresOneDatabase(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u, _ := newSchema(t)
	stores := []*Store{openAt(t, u), openAt(t, u)}
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

// waitForLockWait waits until a backend named appName waits for a lock.
func waitForLockWait(t *testing.T, s *Store, appName string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'`, appName).Scan(&n)
		if err != nil {
			t.Fatalf("pg_stat_activity: %v", err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no backend of %s waits for a lock", appName)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUpdateRetriesSerializationFailure has two updates of one row collide at
// REPEATABLE READ, where the second's SELECT … FOR UPDATE fails with a
// serialization failure once the first commits: the second is retried, and
// both changes stay.
func TestUpdateRetriesSerializationFailure(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u, schema := newSchema(t)
	s := openAt(t, u)
	s.isolation = pgx.RepeatableRead
	now := time.Now()
	if err := s.CreateAction(ctx, store.Action{ID: "a1", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutConnection(ctx, store.Connection{ActionID: "a1", User: "alice", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		update func(fn func(name *string)) error
		get    func() string
	}{
		{
			"action",
			func(fn func(*string)) error {
				_, err := s.UpdateAction(ctx, "a1", func(a *store.Action) error { fn(&a.Name); return nil })
				return err
			},
			func() string { a, _ := s.GetAction(ctx, "a1"); return a.Name },
		},
		{
			"connection",
			func(fn func(*string)) error {
				_, err := s.UpdateConnection(ctx, "a1", "alice", func(c *store.Connection) error { fn(&c.Scope); return nil })
				return err
			},
			func() string { c, _ := s.GetConnection(ctx, "a1", "alice"); return c.Scope },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secondCalls := 0 // written by the second update only
			secondDone := make(chan error, 1)
			started := false
			err := tc.update(func(v *string) {
				*v += " first"
				if !started {
					started = true
					go func() {
						secondDone <- tc.update(func(v *string) {
							secondCalls++
							*v += " second"
						})
					}()
					// Commit only once the second update waits for the row.
					waitForLockWait(t, s, schema)
				}
			})
			if err != nil {
				t.Fatalf("first update: %v", err)
			}
			if err := <-secondDone; err != nil {
				t.Fatalf("second update: %v", err)
			}
			// The first attempt failed before reaching fn.
			if secondCalls != 1 {
				t.Errorf("second fn called %d times, want 1", secondCalls)
			}
			if got := tc.get(); got != " first second" {
				t.Errorf("after both updates: %q, want %q", got, " first second")
			}
		})
	}

	// The same collision without the retry: the second transaction fails, so
	// the subtests above did exercise the retry.
	t.Run("without retry", func(t *testing.T) {
		secondDone := make(chan error, 1)
		started := false
		_, err := s.UpdateAction(ctx, "a1", func(a *store.Action) error {
			a.Name = "third"
			if !started {
				started = true
				go func() {
					secondDone <- s.tx(ctx, func(tx pgx.Tx) error {
						_, err := tx.Exec(ctx, `SELECT 1 FROM actions WHERE id = 'a1' FOR UPDATE`)
						return err
					})
				}()
				waitForLockWait(t, s, schema)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("first update: %v", err)
		}
		if err := <-secondDone; pgCode(err) != codeSerializationFailure {
			t.Errorf("second transaction: %v, want a serialization failure", err)
		}
	})
}

func TestRetry(t *testing.T) {
	ctx := t.Context()
	pgErr := func(code string) error {
		return fmt.Errorf("commit: %w", &pgconn.PgError{Code: code})
	}
	tests := []struct {
		name      string
		errs      []error // what the attempts return, in order; nil after the last
		wantCalls int
		wantErr   bool
	}{
		{"success", nil, 1, false},
		{"serialization failure then success", []error{pgErr("40001")}, 2, false},
		{"deadlock twice then success", []error{pgErr("40P01"), pgErr("40P01")}, 3, false},
		{"always failing", slices.Repeat([]error{pgErr("40001")}, 10), maxAttempts, true},
		{"other SQL error", []error{pgErr("23505")}, 1, true},
		{"fn error", []error{fnError{errors.New("fn")}}, 1, true},
	}
	for _, tc := range tests {
		calls := 0
		err := retry(ctx, func() error {
			calls++
			if calls <= len(tc.errs) {
				return tc.errs[calls-1]
			}
			return nil
		})
		if calls != tc.wantCalls || (err != nil) != tc.wantErr {
			t.Errorf("%s: %d calls, error %v; want %d calls, error %v", tc.name, calls, err, tc.wantCalls, tc.wantErr)
		}
	}

	// A cancelled context stops the retries.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	calls := 0
	retry(cctx, func() error { calls++; return pgErr("40001") })
	if calls != 1 {
		t.Errorf("with a cancelled context: %d calls, want 1", calls)
	}
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
	s := openTest(b)
	ctx := b.Context()
	now := time.Now()
	var actionRows, connRows [][]any
	for a := range actions {
		actionRows = append(actionRows, []any{fmt.Sprintf("action-%04d", a), "A", "{}", "", "oauth", now, now})
	}
	token := make([]byte, 200)
	for a := range actions {
		for u := range users {
			connRows = append(connRows, []any{fmt.Sprintf("action-%04d", a), fmt.Sprintf("user-%03d@example.com", u),
				token, token, "read", now, "connected", now, now})
		}
	}
	if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"actions"},
		[]string{"id", "name", "openapi_schema", "server_url", "auth_type", "created_at", "updated_at"},
		pgx.CopyFromRows(actionRows)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"connections"}, strings.Split(connectionColumns, ", "),
		pgx.CopyFromRows(connRows)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE actions, connections`); err != nil {
		b.Fatal(err)
	}

	get := func(r *mrand.Rand) {
		a, u := r.IntN(actions), r.IntN(users)
		if _, err := s.GetConnection(ctx, fmt.Sprintf("action-%04d", a), fmt.Sprintf("user-%03d@example.com", u)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		r := mrand.New(mrand.NewPCG(1, 2))
		for b.Loop() {
			get(r)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			r := mrand.New(mrand.NewPCG(mrand.Uint64(), 2))
			for pb.Next() {
				get(r)
			}
		})
	})
}
