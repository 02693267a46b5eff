package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/actiongate/actiongate/internal/store/schema"
)

// migrations is the schema's history: files migrations/NNNN_description.sql,
// numbered from 1 without gaps. Never edit one that has been released; add the
// next. Each runs inside a transaction, so it cannot change PRAGMAs such as
// foreign_keys or journal_mode.
//
//go:embed migrations/*.sql
var migrations embed.FS

// errSchemaTooNew means the database was migrated by a newer actiongate.
var errSchemaTooNew = errors.New("database schema is newer than this actiongate")

// migrate applies the migrations in fsys that the database lacks, in order, in
// one transaction, recording each in schema_migrations. Run again, it does
// nothing. It fails with errSchemaTooNew if the database has a version fsys
// does not know.
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	ms, err := schema.LoadMigrations(fsys)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	// db begins IMMEDIATE, so a second process opening the same file waits here
	// and then finds the migrations applied.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL -- unix microseconds
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("sqlite: %w: its version is %d, this one knows up to %d; run a newer actiongate or restore a backup",
			errSchemaTooNew, current, len(ms))
	}
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("sqlite: migrate: %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			m.Version, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("sqlite: migrate: %s: %w", m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}
