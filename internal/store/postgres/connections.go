package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/actiongate/actiongate/internal/store"
)

const connectionColumns = `action_id, user_id, access_token, refresh_token, scope, expires_at, status, created_at, updated_at`

func scanConnection(r scanner) (store.Connection, error) {
	var (
		c       store.Connection
		expires pgtype.Timestamptz
	)
	err := r.Scan(&c.ActionID, &c.User, &c.AccessToken, &c.RefreshToken, &c.Scope, &expires, &c.Status, &c.CreatedAt, &c.UpdatedAt)
	c.AccessToken, c.RefreshToken = nilIfEmpty(c.AccessToken), nilIfEmpty(c.RefreshToken)
	c.ExpiresAt, c.CreatedAt, c.UpdatedAt = fromNullTime(expires), c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

// PutConnection inserts or replaces the connection for (ActionID, User), keeping
// the original CreatedAt when replacing. It returns store.ErrNotFound if the
// action does not exist.
func (s *Store) PutConnection(ctx context.Context, c store.Connection) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO connections (`+connectionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (action_id, user_id) DO UPDATE SET
			access_token = excluded.access_token,
			refresh_token = excluded.refresh_token,
			scope = excluded.scope,
			expires_at = excluded.expires_at,
			status = excluded.status,
			updated_at = excluded.updated_at`,
		c.ActionID, c.User, blob(c.AccessToken), blob(c.RefreshToken), c.Scope,
		nullTime(c.ExpiresAt), c.Status, c.CreatedAt, c.UpdatedAt)
	if err != nil {
		return fmt.Errorf("postgres: put connection: %w", mapError(err))
	}
	return nil
}

// GetConnection returns the connection or store.ErrNotFound.
func (s *Store) GetConnection(ctx context.Context, actionID, user string) (store.Connection, error) {
	c, err := scanConnection(s.pool.QueryRow(ctx,
		`SELECT `+connectionColumns+` FROM connections WHERE action_id = $1 AND user_id = $2`, actionID, user))
	if err != nil {
		return store.Connection{}, fmt.Errorf("postgres: get connection: %w", mapError(err))
	}
	return c, nil
}

// ListConnections returns the user's connections ordered by ActionID.
func (s *Store) ListConnections(ctx context.Context, user string) ([]store.Connection, error) {
	rows, _ := s.pool.Query(ctx,
		`SELECT `+connectionColumns+` FROM connections WHERE user_id = $1 ORDER BY action_id`, user)
	list, err := pgx.AppendRows([]store.Connection(nil), rows, func(r pgx.CollectableRow) (store.Connection, error) {
		return scanConnection(r)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list connections: %w", err)
	}
	return list, nil
}

// UpdateConnection reads, applies fn and writes in one transaction, like
// UpdateAction: fn must not call the store, may be called more than once, and
// changes it makes to ActionID or User are ignored.
func (s *Store) UpdateConnection(ctx context.Context, actionID, user string, fn func(*store.Connection) error) (store.Connection, error) {
	var updated store.Connection
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := scanConnection(tx.QueryRow(ctx,
			`SELECT `+connectionColumns+` FROM connections WHERE action_id = $1 AND user_id = $2 FOR UPDATE`,
			actionID, user))
		if err != nil {
			return fmt.Errorf("postgres: update connection: %w", mapError(err))
		}
		if err := fn(&c); err != nil {
			return fnError{err}
		}
		updated, err = scanConnection(tx.QueryRow(ctx,
			`UPDATE connections SET access_token = $1, refresh_token = $2, scope = $3, expires_at = $4,
				status = $5, created_at = $6, updated_at = $7
			WHERE action_id = $8 AND user_id = $9 RETURNING `+connectionColumns,
			blob(c.AccessToken), blob(c.RefreshToken), c.Scope, nullTime(c.ExpiresAt),
			c.Status, c.CreatedAt, c.UpdatedAt, actionID, user))
		if err != nil {
			return fmt.Errorf("postgres: update connection: %w", err)
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
		`DELETE FROM connections WHERE action_id = $1 AND user_id = $2`, actionID, user)
}
