package postgres

import (
	"context"
	"strconv"

	"github.com/actiongate/actiongate/internal/store/schema"
	"github.com/jackc/pgx/v5"
)

// defaultRewrapBatch is how many rows RewrapAll reads at a time, and so at most
// how many rows one of its write transactions changes.
const defaultRewrapBatch = 500

// placeholder is PostgreSQL's n-th bind parameter, $n.
func placeholder(n int) string { return "$" + strconv.Itoa(n) }

// RewrapAll visits every sealed value as schema.Rewrap.Run describes, in key
// order ("C" collation, the keys' own). Each batch is read in a statement of
// its own; the values fn changed are written in one transaction by
// compare-and-swap: at READ COMMITTED an UPDATE … WHERE value = old re-checks
// the latest committed row, so a value that has changed since it was read is
// left as it is. A write transaction that PostgreSQL aborts with a
// serialization failure or a deadlock (with, say, a DeleteAction cascading
// through the same rows) is retried; fn is not called again.
func (s *Store) RewrapAll(ctx context.Context, fn func([]byte) ([]byte, bool, error)) (int, error) {
	return schema.Rewrap{Backend: "postgres", Batch: s.rewrapBatch, Read: s.readSealed, Write: s.replaceSealed}.Run(ctx, fn)
}

// readSealed reads the batch of rows after the key after (from the first when
// it is nil).
func (s *Store) readSealed(ctx context.Context, t schema.SealedTable, after []any, limit int) ([]schema.SealedRow, error) {
	args := append(append([]any(nil), after...), limit)
	rows, _ := s.pool.Query(ctx, t.SelectQuery(after != nil, placeholder), args...)
	return pgx.AppendRows([]schema.SealedRow(nil), rows, func(row pgx.CollectableRow) (schema.SealedRow, error) {
		r := schema.SealedRow{Key: make([]any, len(t.Keys)), Values: make([][]byte, len(t.Columns))}
		keys := make([]string, len(t.Keys))
		dest := make([]any, 0, len(t.Keys)+len(t.Columns))
		for i := range keys {
			dest = append(dest, &keys[i])
		}
		for i := range r.Values {
			dest = append(dest, &r.Values[i])
		}
		if err := row.Scan(dest...); err != nil {
			return schema.SealedRow{}, err
		}
		for i, k := range keys {
			r.Key[i] = k
		}
		for i, v := range r.Values {
			r.Values[i] = nilIfEmpty(v)
		}
		return r, nil
	})
}

// replaceSealed writes the replacements in one transaction, sent as one batch,
// each only if its row still holds the old value, and returns how many it
// wrote.
func (s *Store) replaceSealed(ctx context.Context, t schema.SealedTable, pending []schema.Replacement) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		n = 0 // a retried attempt starts over
		b := &pgx.Batch{}
		for _, p := range pending {
			b.Queue(t.CASQuery(p.Column, placeholder), append(append([]any{p.New}, p.Key...), p.Old)...)
		}
		res := tx.SendBatch(ctx, b)
		for range pending {
			tag, err := res.Exec()
			if err != nil {
				res.Close()
				return err
			}
			n += int(tag.RowsAffected())
		}
		return res.Close()
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
