package sqlite

import (
	"context"
	"fmt"
)

// GetMeta returns a named value or store.ErrNotFound.
func (s *Store) GetMeta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	if err := s.read.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v); err != nil {
		return nil, fmt.Errorf("sqlite: get meta: %w", notFoundIfNoRows(err))
	}
	return v, nil
}

// PutMeta sets a named value, replacing any previous one.
func (s *Store) PutMeta(ctx context.Context, key string, value []byte) error {
	_, err := s.write.ExecContext(ctx,
		`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		key, blob(value))
	if err != nil {
		return fmt.Errorf("sqlite: put meta: %w", err)
	}
	return nil
}
