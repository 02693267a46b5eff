package sqlite

import (
	"context"
	"database/sql"

	"github.com/actiongate/actiongate/internal/store/schema"
)

// defaultRewrapBatch is how many rows RewrapAll reads at a time, and so at most
// how many rows one of its write transactions changes.
const defaultRewrapBatch = 500

// placeholder is SQLite's bind parameter.
func placeholder(int) string { return "?" }

// RewrapAll visits every sealed value as schema.Rewrap.Run describes: rows are
// read without holding a transaction, and the values fn changed are written by
// compare-and-swap in one write transaction per batch.
func (s *Store) RewrapAll(ctx context.Context, fn func([]byte) ([]byte, bool, error)) (int, error) {
	return schema.Rewrap{Backend: "sqlite", Batch: s.rewrapBatch, Read: s.readSealed, Write: s.replaceSealed}.Run(ctx, fn)
}

// readSealed reads the batch of rows after the key after (from the first when it
// is nil) and closes its statement before returning, so that no read
// transaction stays open while fn runs.
func (s *Store) readSealed(ctx context.Context, t schema.SealedTable, after []any, limit int) ([]schema.SealedRow, error) {
	args := append(append([]any(nil), after...), limit)
	rows, err := s.read.QueryContext(ctx, t.SelectQuery(after != nil, placeholder), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []schema.SealedRow
	for rows.Next() {
		r := schema.SealedRow{Key: make([]any, len(t.Keys)), Values: make([][]byte, len(t.Columns))}
		keys := make([]string, len(t.Keys))
		dest := make([]any, 0, len(t.Keys)+len(t.Columns))
		for i := range keys {
			dest = append(dest, &keys[i])
		}
		for i := range r.Values {
			dest = append(dest, &r.Values[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		for i, k := range keys {
			r.Key[i] = k
		}
		list = append(list, r)
	}
	return list, rows.Err()
}

// replaceSealed writes the replacements in one transaction, each only if its row
// still holds the old value, and returns how many it wrote.
func (s *Store) replaceSealed(ctx context.Context, t schema.SealedTable, pending []schema.Replacement) (int, error) {
	n := 0
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		for _, p := range pending {
			args := append(append([]any{p.New}, p.Key...), p.Old)
			res, err := tx.ExecContext(ctx, t.CASQuery(p.Column, placeholder), args...)
			if err != nil {
				return err
			}
			m, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += int(m)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
