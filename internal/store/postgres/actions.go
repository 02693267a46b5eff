package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/actiongate/actiongate/internal/store"
)

const actionColumns = `id, name, openapi_schema, server_url, auth_type, auth_config, secret, created_at, updated_at`

func scanAction(r scanner) (store.Action, error) {
	var a store.Action
	err := r.Scan(&a.ID, &a.Name, &a.Schema, &a.ServerURL, &a.AuthType, &a.AuthConfig, &a.Secret, &a.CreatedAt, &a.UpdatedAt)
	a.AuthConfig, a.Secret = nilIfEmpty(a.AuthConfig), nilIfEmpty(a.Secret)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a, err
}

// CreateAction inserts a new action; store.ErrConflict if the ID exists.
func (s *Store) CreateAction(ctx context.Context, a store.Action) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO actions (`+actionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		a.ID, a.Name, a.Schema, a.ServerURL, a.AuthType, blob(a.AuthConfig), blob(a.Secret), a.CreatedAt, a.UpdatedAt)
	if err != nil {
		return fmt.Errorf("postgres: create action: %w", mapError(err))
	}
	return nil
}

// GetAction returns the action or store.ErrNotFound.
func (s *Store) GetAction(ctx context.Context, id string) (store.Action, error) {
	a, err := scanAction(s.pool.QueryRow(ctx, `SELECT `+actionColumns+` FROM actions WHERE id = $1`, id))
	if err != nil {
		return store.Action{}, fmt.Errorf("postgres: get action: %w", mapError(err))
	}
	return a, nil
}

// ListActions returns every action ordered by CreatedAt then ID.
func (s *Store) ListActions(ctx context.Context) ([]store.Action, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+actionColumns+` FROM actions ORDER BY created_at, id`)
	list, err := pgx.AppendRows([]store.Action(nil), rows, func(r pgx.CollectableRow) (store.Action, error) {
		return scanAction(r)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list actions: %w", err)
	}
	return list, nil
}

// UpdateAction reads the action, locking its row, applies fn and writes the
// result in one transaction; concurrent updates of the action, from this
// process or another, wait for it. A change fn makes to the ID is ignored. The
// result is the action as stored. fn may be called again if PostgreSQL aborts
// the transaction with a serialization failure or a deadlock.
func (s *Store) UpdateAction(ctx context.Context, id string, fn func(*store.Action) error) (store.Action, error) {
	var updated store.Action
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		a, err := scanAction(tx.QueryRow(ctx, `SELECT `+actionColumns+` FROM actions WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return fmt.Errorf("postgres: update action: %w", mapError(err))
		}
		if err := fn(&a); err != nil {
			return fnError{err}
		}
		updated, err = scanAction(tx.QueryRow(ctx,
			`UPDATE actions SET name = $1, openapi_schema = $2, server_url = $3, auth_type = $4,
				auth_config = $5, secret = $6, created_at = $7, updated_at = $8
			WHERE id = $9 RETURNING `+actionColumns,
			a.Name, a.Schema, a.ServerURL, a.AuthType, blob(a.AuthConfig), blob(a.Secret),
			a.CreatedAt, a.UpdatedAt, id))
		if err != nil {
			return fmt.Errorf("postgres: update action: %w", err)
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
	return s.deleteOne(ctx, "delete action", `DELETE FROM actions WHERE id = $1`, id)
}

// deleteOne runs a DELETE meant to remove one row; store.ErrNotFound if it
// removed none.
func (s *Store) deleteOne(ctx context.Context, op, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return nil
}
