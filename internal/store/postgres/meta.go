package postgres

import (
	"context"
	"fmt"
)

// GetMeta returns a named value or store.ErrNotFound.
func (s *Store) GetMeta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	if err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v); err != nil {
		return nil, fmt.Errorf("postgres: get meta: %w", mapError(err))
	}
	return nilIfEmpty(v), nil
}

// PutMeta sets a named value, replacing any previous one.
func (s *Store) PutMeta(ctx context.Context, key string, value []byte) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		key, blob(value))
	if err != nil {
		return fmt.Errorf("postgres: put meta: %w", err)
	}
	return nil
}
