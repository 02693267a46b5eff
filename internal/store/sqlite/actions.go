package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/actiongate/actiongate/internal/store"
)

const actionColumns = `id, name, openapi_schema, server_url, auth_type, auth_config, secret, created_at, updated_at`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanAction(r scanner) (store.Action, error) {
	var (
		a                store.Action
		created, updated int64
	)
	err := r.Scan(&a.ID, &a.Name, &a.Schema, &a.ServerURL, &a.AuthType, &a.AuthConfig, &a.Secret, &created, &updated)
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return a, err
}

// CreateAction inserts a new action; store.ErrConflict if the ID exists.
func (s *Store) CreateAction(ctx context.Context, a store.Action) error {
	res, err := s.write.ExecContext(ctx,
		`INSERT INTO actions (`+actionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`,
		a.ID, a.Name, a.Schema, a.ServerURL, a.AuthType, blob(a.AuthConfig), blob(a.Secret),
		micros(a.CreatedAt), micros(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create action: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: create action: %w", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: create action: %w", store.ErrConflict)
	}
	return nil
}

// GetAction returns the action or store.ErrNotFound.
func (s *Store) GetAction(ctx context.Context, id string) (store.Action, error) {
	a, err := scanAction(s.read.QueryRowContext(ctx, `SELECT `+actionColumns+` FROM actions WHERE id = ?`, id))
	if err != nil {
		return store.Action{}, fmt.Errorf("sqlite: get action: %w", notFoundIfNoRows(err))
	}
	return a, nil
}

// ListActions returns every action ordered by CreatedAt then ID.
func (s *Store) ListActions(ctx context.Context) ([]store.Action, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+actionColumns+` FROM actions ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list actions: %w", err)
	}
	defer rows.Close()
	var list []store.Action
	for rows.Next() {
		a, err := scanAction(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list actions: %w", err)
		}
		list = append(list, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list actions: %w", err)
	}
	return list, nil
}

// UpdateAction reads the action, applies fn and writes the result in one
// transaction. fn must not call the store: the transaction holds the only write
// connection. A change fn makes to the ID is ignored. The result is the action as
// stored.
func (s *Store) UpdateAction(ctx context.Context, id string, fn func(*store.Action) error) (store.Action, error) {
	var updated store.Action
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		a, err := scanAction(tx.QueryRowContext(ctx, `SELECT `+actionColumns+` FROM actions WHERE id = ?`, id))
		if err != nil {
			return fmt.Errorf("sqlite: update action: %w", notFoundIfNoRows(err))
		}
		if err := fn(&a); err != nil {
			return err
		}
		updated, err = scanAction(tx.QueryRowContext(ctx,
			`UPDATE actions SET name = ?, openapi_schema = ?, server_url = ?, auth_type = ?,
				auth_config = ?, secret = ?, created_at = ?, updated_at = ?
			WHERE id = ? RETURNING `+actionColumns,
			a.Name, a.Schema, a.ServerURL, a.AuthType, blob(a.AuthConfig), blob(a.Secret),
			micros(a.CreatedAt), micros(a.UpdatedAt), id))
		if err != nil {
			return fmt.Errorf("sqlite: update action: %w", err)
		}
		return nil
	})
	if err != nil {
		return store.Action{}, err
	}
	return updated, nil
}

// DeleteAction removes the action; its connections and sign-in states go with it
// by ON DELETE CASCADE. store.ErrNotFound if it does not exist.
func (s *Store) DeleteAction(ctx context.Context, id string) error {
	return s.deleteOne(ctx, "delete action", `DELETE FROM actions WHERE id = ?`, id)
}

// deleteOne runs a DELETE meant to remove one row; store.ErrNotFound if it
// removed none.
func (s *Store) deleteOne(ctx context.Context, op, query string, args ...any) error {
	res, err := s.write.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	return nil
}
