package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/actiongate/actiongate/internal/store"
)

const tokenColumns = `id, name, hash, scopes, user_id, created_at, expires_at, revoked_at`

func scanToken(r scanner) (store.Token, error) {
	var (
		t                store.Token
		scopes           string
		created          int64
		expires, revoked sql.NullInt64
	)
	if err := r.Scan(&t.ID, &t.Name, &t.Hash, &scopes, &t.User, &created, &expires, &revoked); err != nil {
		return store.Token{}, err
	}
	if err := json.Unmarshal([]byte(scopes), &t.Scopes); err != nil {
		return store.Token{}, fmt.Errorf("token %q: scopes: %w", t.ID, err)
	}
	if len(t.Scopes) == 0 {
		t.Scopes = nil
	}
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromMicros(created), fromNullMicros(expires), fromNullMicros(revoked)
	return t, nil
}

// encodeScopes returns scopes as the JSON array stored, "[]" for none. It
// refuses invalid UTF-8, which encoding/json would silently replace.
func encodeScopes(scopes []string) (string, error) {
	for _, sc := range scopes {
		if !utf8.ValidString(sc) {
			return "", fmt.Errorf("scope %q is not valid UTF-8", sc)
		}
	}
	if scopes == nil {
		scopes = []string{}
	}
	b, err := json.Marshal(scopes)
	return string(b), err
}

// CreateToken stores an API token; store.ErrConflict if the ID or hash exists.
// A token without a hash is refused.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	if len(t.Hash) == 0 {
		return errors.New("sqlite: create token: empty hash")
	}
	scopes, err := encodeScopes(t.Scopes)
	if err != nil {
		return fmt.Errorf("sqlite: create token: %w", err)
	}
	// DO NOTHING without a conflict target covers both the ID and the hash.
	res, err := s.write.ExecContext(ctx,
		`INSERT INTO api_tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
		t.ID, t.Name, t.Hash, scopes, t.User, micros(t.CreatedAt), nullMicros(t.ExpiresAt), nullMicros(t.RevokedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: create token: %w", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: create token: %w", store.ErrConflict)
	}
	return nil
}

// GetTokenByHash returns the token with this hash, revoked or not, or
// store.ErrNotFound.
func (s *Store) GetTokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	t, err := scanToken(s.read.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ?`, blob(hash)))
	if err != nil {
		return store.Token{}, fmt.Errorf("sqlite: get token: %w", notFoundIfNoRows(err))
	}
	return t, nil
}

// ListTokens returns every token ordered by CreatedAt then ID.
func (s *Store) ListTokens(ctx context.Context) ([]store.Token, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	defer rows.Close()
	var list []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list tokens: %w", err)
		}
		list = append(list, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	return list, nil
}

// RevokeToken sets RevokedAt to at unless the token was revoked earlier, in one
// statement; store.ErrNotFound if the token does not exist. The zero time,
// which would mean "active", is refused.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return errors.New("sqlite: revoke token: zero revocation time")
	}
	us := micros(at)
	// min(NULL, x) is NULL in SQLite, hence the coalesce.
	res, err := s.write.ExecContext(ctx,
		`UPDATE api_tokens SET revoked_at = min(coalesce(revoked_at, ?), ?) WHERE id = ?`, us, us, id)
	if err != nil {
		return fmt.Errorf("sqlite: revoke token: %w", err)
	}
	// A matched row counts as changed even when it keeps its value.
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: revoke token: %w", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: revoke token: %w", store.ErrNotFound)
	}
	return nil
}
