package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/actiongate/actiongate/internal/store"
)

const tokenColumns = `id, name, hash, scopes, user_id, created_at, expires_at, revoked_at`

func scanToken(r scanner) (store.Token, error) {
	var (
		t                store.Token
		expires, revoked pgtype.Timestamptz
	)
	err := r.Scan(&t.ID, &t.Name, &t.Hash, &t.Scopes, &t.User, &t.CreatedAt, &expires, &revoked)
	if len(t.Scopes) == 0 {
		t.Scopes = nil
	}
	t.Hash = nilIfEmpty(t.Hash)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = t.CreatedAt.UTC(), fromNullTime(expires), fromNullTime(revoked)
	return t, err
}

// CreateToken stores an API token; store.ErrConflict if the ID or hash exists.
// A token without a hash is refused.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	if len(t.Hash) == 0 {
		return errors.New("postgres: create token: empty hash")
	}
	scopes := t.Scopes
	if scopes == nil {
		scopes = []string{} // '{}', not NULL
	}
	_, err := s.pool.Exec(ctx,
		`INSERT INTO api_tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.ID, t.Name, t.Hash, scopes, t.User, t.CreatedAt, nullTime(t.ExpiresAt), nullTime(t.RevokedAt))
	if err != nil {
		return fmt.Errorf("postgres: create token: %w", mapError(err))
	}
	return nil
}

// GetTokenByHash returns the token with this hash, revoked or not, or
// store.ErrNotFound.
func (s *Store) GetTokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1`, blob(hash)))
	if err != nil {
		return store.Token{}, fmt.Errorf("postgres: get token: %w", mapError(err))
	}
	return t, nil
}

// ListTokens returns every token ordered by CreatedAt then ID.
func (s *Store) ListTokens(ctx context.Context) ([]store.Token, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY created_at, id`)
	list, err := pgx.AppendRows([]store.Token(nil), rows, func(r pgx.CollectableRow) (store.Token, error) {
		return scanToken(r)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list tokens: %w", err)
	}
	return list, nil
}

// RevokeToken sets RevokedAt to at unless the token was revoked earlier, in one
// statement (LEAST ignores a NULL); store.ErrNotFound if the token does not
// exist. The zero time, which would mean "active", is refused.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return errors.New("postgres: revoke token: zero revocation time")
	}
	tag, err := s.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = LEAST(revoked_at, $2) WHERE id = $1`, id, at)
	if err != nil {
		return fmt.Errorf("postgres: revoke token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: revoke token: %w", store.ErrNotFound)
	}
	return nil
}
