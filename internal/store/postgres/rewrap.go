package postgres

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
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

// placeholders returns "$from, …, $(from+n-1)".
func placeholders(from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(ps, ", ")
}

// selectQuery reads the next batch of rows that hold at least one value, in
// key order ("C" collation, the keys' own): those after the key given as the
// first arguments when after is set, else from the first. The last argument is
// the batch size.
func (t sealedTable) selectQuery(after bool) string {
	keys := strings.Join(t.keys, ", ")
	var notNull []string
	for _, c := range t.columns {
		notNull = append(notNull, c+" IS NOT NULL")
	}
	where := "(" + strings.Join(notNull, " OR ") + ")"
	next := 1
	if after {
		where += " AND (" + keys + ") > (" + placeholders(1, len(t.keys)) + ")"
		next += len(t.keys)
	}
	return "SELECT " + keys + ", " + strings.Join(t.columns, ", ") + " FROM " + t.name +
		" WHERE " + where + " ORDER BY " + keys + " LIMIT $" + strconv.Itoa(next)
}

// casQuery replaces the value in column of the row with the given key if it is
// still the old one. Arguments: the new value, the key, the old value.
func (t sealedTable) casQuery(column string) string {
	var where []string
	for i, k := range t.keys {
		where = append(where, k+" = $"+strconv.Itoa(i+2))
	}
	return "UPDATE " + t.name + " SET " + column + " = $1 WHERE " + strings.Join(where, " AND ") +
		" AND " + column + " = $" + strconv.Itoa(len(t.keys)+2)
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
// a table, in batches. For each batch it reads the rows in a statement of its
// own, calls fn for each value outside any transaction (so fn may use the
// store), then writes the values fn changed in one transaction, each by
// compare-and-swap: at READ COMMITTED an UPDATE … WHERE value = old re-checks
// the latest committed row, so a value that has changed since it was read is
// left as it is. A row is visited once per run, since rows are paged by their
// key, which never changes; rows added during the run may or may not be
// visited. A write transaction that PostgreSQL aborts with a serialization
// failure or a deadlock (with, say, a DeleteAction cascading through the same
// rows) is retried; fn is not called again.
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
			return replaced, fmt.Errorf("postgres: rewrap: read %s: %w", t.name, err)
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
					return replaced, fmt.Errorf("postgres: rewrap: %s.%s: fn returned an empty replacement", t.name, t.columns[i])
				}
				// Copied in case fn reuses its buffer from one call to the next.
				pending = append(pending, replacement{t.columns[i], r.key, old, bytes.Clone(nv)})
			}
		}
		n, err := s.replaceSealed(ctx, t, pending)
		if err != nil {
			return replaced, fmt.Errorf("postgres: rewrap: write %s: %w", t.name, err)
		}
		replaced += n
		if len(rows) < s.rewrapBatch {
			return replaced, nil
		}
		after = rows[len(rows)-1].key
	}
}

// readSealed reads the batch of rows after the key after (from the first when
// it is nil).
func (s *Store) readSealed(ctx context.Context, t sealedTable, after []any) ([]sealedRow, error) {
	args := append(append([]any(nil), after...), s.rewrapBatch)
	rows, _ := s.pool.Query(ctx, t.selectQuery(after != nil), args...)
	return pgx.AppendRows([]sealedRow(nil), rows, func(row pgx.CollectableRow) (sealedRow, error) {
		r := sealedRow{key: make([]any, len(t.keys)), values: make([][]byte, len(t.columns))}
		keys := make([]string, len(t.keys))
		dest := make([]any, 0, len(t.keys)+len(t.columns))
		for i := range keys {
			dest = append(dest, &keys[i])
		}
		for i := range r.values {
			dest = append(dest, &r.values[i])
		}
		if err := row.Scan(dest...); err != nil {
			return sealedRow{}, err
		}
		for i, k := range keys {
			r.key[i] = k
		}
		for i, v := range r.values {
			r.values[i] = nilIfEmpty(v)
		}
		return r, nil
	})
}

// replaceSealed writes the replacements in one transaction, sent as one batch,
// each only if its row still holds the old value, and returns how many it
// wrote.
func (s *Store) replaceSealed(ctx context.Context, t sealedTable, pending []replacement) (int, error) {
	if len(pending) == 0 {
		return 0, nil
	}
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		n = 0 // a retried attempt starts over
		b := &pgx.Batch{}
		for _, p := range pending {
			b.Queue(t.casQuery(p.column), append(append([]any{p.new}, p.key...), p.old)...)
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
