package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/actiongate/actiongate/internal/store/schema"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations is the schema's history: files migrations/NNNN_description.sql,
// numbered from 1 without gaps. Never edit one that has been released; add the
// next. All pending migrations run in one transaction (PostgreSQL DDL is
// transactional), so a migration must not use statements that cannot run in a
// transaction block, such as CREATE INDEX CONCURRENTLY.
//
//go:embed migrations/*.sql
var migrations embed.FS

// errSchemaTooNew means the database was migrated by a newer actiongate.
var errSchemaTooNew = errors.New("database schema is newer than this actiongate")

// migrationLockKey is the pg_advisory_xact_lock key that serializes migrations:
// the bytes "actgmigr". Advisory locks are per database, so replicas whose
// schemas differ (search_path) still take turns, which costs only a little
// waiting at start-up.
const migrationLockKey int64 = 0x616374676d696772

// Migrate brings the schema of the database at url up to date, for the
// `actiongate migrate` command; Open does the same on its own. Run again, it
// does nothing. It fails if the database was migrated by a newer actiongate.
func Migrate(ctx context.Context, url string) error {
	if url == "" {
		return errors.New("postgres: empty database URL")
	}
	// Parsed as a pool's, so that the pool settings the server's URL may carry
	// (pool_max_conns, …) are understood rather than sent to PostgreSQL.
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// %v, not %w: a *pgconn.ParseConfigError keeps the unredacted string.
		return fmt.Errorf("postgres: parse database URL: %v", err)
	}
	setDefaults(cfg.ConnConfig)
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return migrate(ctx, conn, migrations)
}

// migrate applies the migrations in fsys that the database lacks, in order, in
// one transaction, recording each in schema_migrations. Run again, it does
// nothing. It fails with errSchemaTooNew if the database has a version fsys
// does not know.
//
// The transaction first takes an advisory lock, so that replicas starting at
// once take turns: the first applies the migrations and the others, once it
// has committed, find nothing left to do. It runs at READ COMMITTED whatever
// the server's default_transaction_isolation, so that each statement after the
// lock sees what the previous holder committed.
func migrate(ctx context.Context, conn *pgx.Conn, fsys fs.FS) error {
	ms, err := schema.LoadMigrations(fsys)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer tx.Rollback(ctx) // after Commit it does nothing
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     NOT NULL PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("postgres: %w: its version is %d, this one knows up to %d; run a newer actiongate or restore a backup",
			errSchemaTooNew, current, len(ms))
	}
	for _, m := range ms[current:] {
		// Without arguments Exec uses the simple protocol, which allows several
		// statements in one string.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("postgres: migrate: %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version); err != nil {
			return fmt.Errorf("postgres: migrate: %s: %w", m.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}
