package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/actiongate/actiongate/internal/store"
)

const connectionColumns = `action_id, user_id, access_token, refresh_token, scope, expires_at, status, created_at, updated_at`

func scanConnection(r scanner) (store.Connection, error) {
	var (
		c                store.Connection
		expires          sql.NullInt64
		created, updated int64
	)
	err := r.Scan(&c.ActionID, &c.User, &c.AccessToken, &c.RefreshToken, &c.Scope, &expires, &c.Status, &created, &updated)
	c.ExpiresAt, c.CreatedAt, c.UpdatedAt = fromNullMicros(expires), fromMicros(created), fromMicros(updated)
	return c, err
}

// PutConnection inserts or replaces the connection for (ActionID, User), keeping
// the original CreatedAt when replacing. It returns store.ErrNotFound if the
// action does not exist.
func (s *Store) PutConnection(ctx context.Context, c store.Connection) error {
	_, err := s.write.ExecContext(ctx,
		`INSERT INTO connections (`+connectionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (action_id, user_id) DO UPDATE SET
			access_token = excluded.access_token,
			refresh_token = excluded.refresh_token,
			scope = excluded.scope,
			expires_at = excluded.expires_at,
			status = excluded.status,
			updated_at = excluded.updated_at`,
		c.ActionID, c.User, blob(c.AccessToken), blob(c.RefreshToken), c.Scope,
		nullMicros(c.ExpiresAt), c.Status, micros(c.CreatedAt), micros(c.UpdatedAt))
	if isForeignKeyViolation(err) {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: put connection: %w", err)
	}
	return nil
}

// GetConnection returns the connection or store.ErrNotFound.
func (s *Store) GetConnection(ctx context.Context, actionID, user string) (store.Connection, error) {
	c, err := scanConnection(s.read.QueryRowContext(ctx,
		`SELECT `+connectionColumns+` FROM connections WHERE action_id = ? AND user_id = ?`, actionID, user))
	if err != nil {
		return store.Connection{}, fmt.Errorf("sqlite: get connection: %w", notFoundIfNoRows(err))
	}
	return c, nil
}

// ListConnections returns the user's connections ordered by ActionID.
func (s *Store) ListConnections(ctx context.Context, user string) ([]store.Connection, error) {
	rows, err := s.read.QueryContext(ctx,
		`SELECT `+connectionColumns+` FROM connections WHERE user_id = ? ORDER BY action_id`, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list connections: %w", err)
	}
	defer rows.Close()
	var list []store.Connection
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list connections: %w", err)
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list connections: %w", err)
	}
	return list, nil
}

// UpdateConnection reads, applies fn and writes in one transaction, like
// UpdateAction: fn must not call the store, and changes it makes to ActionID or
// User are ignored.
func (s *Store) UpdateConnection(ctx context.Context, actionID, user string, fn func(*store.Connection) error) (store.Connection, error) {
	var updated store.Connection
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		c, err := scanConnection(tx.QueryRowContext(ctx,
			`SELECT `+connectionColumns+` FROM connections WHERE action_id = ? AND user_id = ?`, actionID, user))
		if err != nil {
			return fmt.Errorf("sqlite: update connection: %w", notFoundIfNoRows(err))
		}
		if err := fn(&c); err != nil {
			return err
		}
		updated, err = scanConnection(tx.QueryRowContext(ctx,
			`UPDATE connections SET access_token = ?, refresh_token = ?, scope = ?, expires_at = ?,
				status = ?, created_at = ?, updated_at = ?
			WHERE action_id = ? AND user_id = ? RETURNING `+connectionColumns,
			blob(c.AccessToken), blob(c.RefreshToken), c.Scope, nullMicros(c.ExpiresAt),
			c.Status, micros(c.CreatedAt), micros(c.UpdatedAt), actionID, user))
		if err != nil {
			return fmt.Errorf("sqlite: update connection: %w", err)
		}
		return nil
	})
	if err != nil {
		return store.Connection{}, err
	}
	return updated, nil
}

// DeleteConnection removes the connection; store.ErrNotFound if it does not exist.
func (s *Store) DeleteConnection(ctx context.Context, actionID, user string) error {
	return s.deleteOne(ctx, "delete connection",
		`DELETE FROM connections WHERE action_id = ? AND user_id = ?`, actionID, user)
}
