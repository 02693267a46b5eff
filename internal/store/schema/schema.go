// Package schema holds what the SQL backends of package store share about
// their schemas, so that it is written once: how migration files are named and
// ordered, which columns hold sealed values, and the walk over those columns
// that RewrapAll makes. The SQL itself stays with each backend, in its dialect.
package schema

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one file migrations/NNNN_description.sql of a backend.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads migrations/*.sql from fsys, ordered by version. Versions
// count up from 1 without gaps or repeats; anything else is an error.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, name := range names {
		num, _, _ := strings.Cut(path.Base(name), "_")
		v, err := strconv.Atoi(num)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name does not start with a version number", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d (versions count up from 1 without gaps or repeats)", m.Name, m.Version, i+1)
		}
	}
	return ms, nil
}

// SealedTable is a table with sealed values: its key columns and the columns
// that hold the values.
type SealedTable struct {
	Name    string
	Keys    []string
	Columns []string
}

// SealedTables lists every column that holds a sealed value, in every backend:
// what RewrapAll visits. A new sealed column must be added here, or rotating
// the master key would leave it under the old key.
var SealedTables = []SealedTable{
	{"actions", []string{"id"}, []string{"secret"}},
	{"connections", []string{"action_id", "user_id"}, []string{"access_token", "refresh_token"}},
	{"sign_in_states", []string{"hash"}, []string{"verifier"}},
}

// Placeholder spells the n-th (from 1) bind parameter of a query in a
// backend's dialect: "?" for SQLite, "$n" for PostgreSQL.
type Placeholder func(n int) string

// SelectQuery reads the next batch of rows that hold at least one value, in
// key order: those after the key given as the first arguments when after is
// set, else from the first. The last argument is the batch size. Columns come
// keys first, then values.
func (t SealedTable) SelectQuery(after bool, ph Placeholder) string {
	keys := strings.Join(t.Keys, ", ")
	var notNull []string
	for _, c := range t.Columns {
		notNull = append(notNull, c+" IS NOT NULL")
	}
	where := "(" + strings.Join(notNull, " OR ") + ")"
	next := 1
	if after {
		ps := make([]string, len(t.Keys))
		for i := range ps {
			ps[i] = ph(next + i)
		}
		where += " AND (" + keys + ") > (" + strings.Join(ps, ", ") + ")"
		next += len(t.Keys)
	}
	return "SELECT " + keys + ", " + strings.Join(t.Columns, ", ") + " FROM " + t.Name +
		" WHERE " + where + " ORDER BY " + keys + " LIMIT " + ph(next)
}

// CASQuery replaces the value in column of the row with the given key if it is
// still the old one. Arguments: the new value, the key, the old value.
func (t SealedTable) CASQuery(column string, ph Placeholder) string {
	var where []string
	for i, k := range t.Keys {
		where = append(where, k+" = "+ph(i+2))
	}
	return "UPDATE " + t.Name + " SET " + column + " = " + ph(1) + " WHERE " + strings.Join(where, " AND ") +
		" AND " + column + " = " + ph(len(t.Keys)+2)
}

// SealedRow is a row read for a rewrap: its key, and its values (nil when
// absent) in the order of SealedTable.Columns.
type SealedRow struct {
	Key    []any
	Values [][]byte
}

// Replacement is a value to write if the row with Key still holds Old in
// Column.
type Replacement struct {
	Column   string
	Key      []any
	Old, New []byte
}

// Rewrap is the walk RewrapAll makes over SealedTables, with the backend's
// reads and writes.
type Rewrap struct {
	// Backend names the backend in error messages ("sqlite").
	Backend string
	// Batch is how many rows one Read returns at most, and so at most how many
	// rows one Write changes.
	Batch int
	// Read returns the batch of rows of t after the key after (from the first
	// when it is nil), at most limit of them, holding no transaction open when
	// it returns.
	Read func(ctx context.Context, t SealedTable, after []any, limit int) ([]SealedRow, error)
	// Write writes the replacements in one transaction, each only if its row
	// still holds the old value, and returns how many it wrote.
	Write func(ctx context.Context, t SealedTable, pending []Replacement) (int, error)
}

// Run visits every sealed value, table by table and in key order within a
// table, in batches. For each batch it reads the rows, calls fn for each value
// outside any transaction (so fn may use the store), then writes the values fn
// changed in one write transaction, each by compare-and-swap: a value that has
// changed since it was read is left as it is. A row is visited once per run,
// since rows are paged by their key, which never changes; rows added during the
// run may or may not be visited.
//
// An error from fn stops the run at once and is returned as is, with the number
// of values already replaced; the changes fn made in the unfinished batch are
// not written. A replacement that is empty while changed is true is refused the
// same way: it would erase the secret.
func (r Rewrap) Run(ctx context.Context, fn func([]byte) ([]byte, bool, error)) (int, error) {
	if r.Batch < 1 {
		return 0, fmt.Errorf("%s: rewrap: batch size %d", r.Backend, r.Batch)
	}
	total := 0
	for _, t := range SealedTables {
		n, err := r.table(ctx, t, fn)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (r Rewrap) table(ctx context.Context, t SealedTable, fn func([]byte) ([]byte, bool, error)) (int, error) {
	replaced := 0
	var after []any
	for {
		rows, err := r.Read(ctx, t, after, r.Batch)
		if err != nil {
			return replaced, fmt.Errorf("%s: rewrap: read %s: %w", r.Backend, t.Name, err)
		}
		var pending []Replacement
		for _, row := range rows {
			for i, old := range row.Values {
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
					return replaced, fmt.Errorf("%s: rewrap: %s.%s: fn returned an empty replacement", r.Backend, t.Name, t.Columns[i])
				}
				// Copied in case fn reuses its buffer from one call to the next.
				pending = append(pending, Replacement{t.Columns[i], row.Key, old, bytes.Clone(nv)})
			}
		}
		if len(pending) > 0 {
			n, err := r.Write(ctx, t, pending)
			if err != nil {
				return replaced, fmt.Errorf("%s: rewrap: write %s: %w", r.Backend, t.Name, err)
			}
			replaced += n
		}
		if len(rows) < r.Batch {
			return replaced, nil
		}
		after = rows[len(rows)-1].Key
	}
}
