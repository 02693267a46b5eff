package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// defaultRewrapBatch is how many rows RewrapAll reads at a time, and so at most
// how many rows one of its write transactions changes.
const defaultRewrapBatch = 500

// sealedTable is a table with sealed values: its key columns and the columns
// that hold the values.
type sealedTable struct {
	name    string
	keys    []string
	columns []string
}

// sealedTables lists every column that holds a sealed value: what RewrapAll
// visits. A new sealed column must be added here.
var sealedTables = []sealedTable{
	{"actions", []string{"id"}, []string{"secret"}},
	{"connections", []string{"action_id", "user_id"}, []string{"access_token", "refresh_token"}},
	{"sign_in_states", []string{"hash"}, []string{"verifier"}},
}

// selectQuery reads the next batch of rows that hold at least one value, in
// key order: those after the key given as arguments when after is set, else
// from the first. The last argument is the batch size.
func (t sealedTable) selectQuery(after bool) string {
	keys := strings.Join(t.keys, ", ")
	var notNull []string
	for _, c := range t.columns {
		notNull = append(notNull, c+" IS NOT NULL")
	}
	where := "(" + strings.Join(notNull, " OR ") + ")"
	if after {
		where += " AND (" + keys + ") > (" + strings.TrimSuffix(strings.Repeat("?, ", len(t.keys)), ", ") + ")"
	}
	return "SELECT " + keys + ", " + strings.Join(t.columns, ", ") + " FROM " + t.name +
		" WHERE " + where + " ORDER BY " + keys + " LIMIT ?"
}

// casQuery replaces the value in column of the row with the given key if it is
// still the old one. Arguments: the new value, the key, the old value.
func (t sealedTable) casQuery(column string) string {
	var where []string
	for _, k := range t.keys {
		where = append(where, k+" = ?")
	}
	return "UPDATE " + t.name + " SET " + column + " = ? WHERE " + strings.Join(where, " AND ") +
		" AND " + column + " = ?"
}

// sealedRow is a row read by RewrapAll: its key, and its values (nil when absent)
// in the order of sealedTable.columns.
type sealedRow struct {
	key    []any
	values [][]byte
}

// replacement is a value that fn changed, to be written if the row still holds
// old.
type replacement struct {
	column   string
	key      []any
	old, new []byte
}

// RewrapAll visits every sealed value, table by table and in key order within
// a table, in batches. For each batch it reads the rows without holding a
// transaction, calls fn for each value outside any transaction (so fn may use
// the store), then writes the values fn changed in one write transaction, each
// by compare-and-swap: a value that has changed since it was read is left as it
// is. A row is visited once per run, since rows are paged by their key, which
// never changes; rows added during the run may or may not be visited.
//
// An error from fn stops the run at once and is returned as is, with the number
// of values already replaced; the changes fn made in the unfinished batch are
// not written. A replacement that is empty while changed is true is refused the
// same way: it would erase the secret.
func (s *Store) RewrapAll(ctx context.Context, fn func([]byte) ([]byte, bool, error)) (int, error) {
	total := 0
	for _, t := range sealedTables {
		n, err := s.rewrapTable(ctx, t, fn)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (s *Store) rewrapTable(ctx context.Context, t sealedTable, fn func([]byte) ([]byte, bool, error)) (int, error) {
	replaced := 0
	var after []any
	for {
		rows, err := s.readSealed(ctx, t, after)
		if err != nil {
			return replaced, fmt.Errorf("sqlite: rewrap: read %s: %w", t.name, err)
		}
		var pending []replacement
		for _, r := range rows {
			for i, old := range r.values {
				if old == nil {
					continue
				}
				// fn gets a copy, so that nothing it does to the slice can change
				// the old value compared against.
				nv, changed, err := fn(bytes.Clone(old))
				if err != nil {
					return replaced, err
				}
				if !changed {
					continue
				}
				if len(nv) == 0 {
					return replaced, fmt.Errorf("sqlite: rewrap: %s.%s: fn returned an empty replacement", t.name, t.columns[i])
				}
				// Copied in case fn reuses its buffer from one call to the next.
				pending = append(pending, replacement{t.columns[i], r.key, old, bytes.Clone(nv)})
			}
		}
		n, err := s.replaceSealed(ctx, t, pending)
		if err != nil {
			return replaced, fmt.Errorf("sqlite: rewrap: write %s: %w", t.name, err)
		}
		replaced += n
		if len(rows) < s.rewrapBatch {
			return replaced, nil
		}
		after = rows[len(rows)-1].key
	}
}

// readSealed reads the batch of rows after the key after (from the first when it
// is nil) and closes its statement before returning, so that no read
// transaction stays open while fn runs.
func (s *Store) readSealed(ctx context.Context, t sealedTable, after []any) ([]sealedRow, error) {
	args := append(append([]any(nil), after...), s.rewrapBatch)
	rows, err := s.read.QueryContext(ctx, t.selectQuery(after != nil), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []sealedRow
	for rows.Next() {
		r := sealedRow{key: make([]any, len(t.keys)), values: make([][]byte, len(t.columns))}
		keys := make([]string, len(t.keys))
		dest := make([]any, 0, len(t.keys)+len(t.columns))
		for i := range keys {
			dest = append(dest, &keys[i])
		}
		for i := range r.values {
			dest = append(dest, &r.values[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		for i, k := range keys {
			r.key[i] = k
		}
		list = append(list, r)
	}
	return list, rows.Err()
}

// replaceSealed writes the replacements in one transaction, each only if its row
// still holds the old value, and returns how many it wrote.
func (s *Store) replaceSealed(ctx context.Context, t sealedTable, pending []replacement) (int, error) {
	if len(pending) == 0 {
		return 0, nil
	}
	n := 0
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		for _, p := range pending {
			args := append(append([]any{p.new}, p.key...), p.old)
			res, err := tx.ExecContext(ctx, t.casQuery(p.column), args...)
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
