package schema

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		ok    bool
	}{
		{"numeric order", []string{"0002_b.sql", "0010_j.sql", "0001_a.sql", "3_c.sql", "0004_d.sql", "0005_e.sql", "0006_f.sql", "0007_g.sql", "0008_h.sql", "0009_i.sql"}, true},
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, false},
		{"repeat", []string{"0001_a.sql", "01_b.sql"}, false},
		{"no number", []string{"0001_a.sql", "init.sql"}, false},
		{"zero", []string{"0000_a.sql"}, false},
	}
	for _, tc := range tests {
		fsys := fstest.MapFS{}
		for _, f := range tc.files {
			fsys["migrations/"+f] = &fstest.MapFile{Data: []byte(f)}
		}
		ms, err := LoadMigrations(fsys)
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		for i, m := range ms {
			if m.Version != i+1 {
				t.Errorf("%s: migration %d is %s", tc.name, i, m.Name)
			}
		}
	}
}

func TestQueries(t *testing.T) {
	conn := SealedTable{"connections", []string{"action_id", "user_id"}, []string{"access_token", "refresh_token"}}
	q := func(int) string { return "?" }
	d := func(n int) string { return "$" + strconv.Itoa(n) }
	tests := []struct{ got, want string }{
		{conn.SelectQuery(false, q), "SELECT action_id, user_id, access_token, refresh_token FROM connections WHERE (access_token IS NOT NULL OR refresh_token IS NOT NULL) ORDER BY action_id, user_id LIMIT ?"},
		{conn.SelectQuery(true, d), "SELECT action_id, user_id, access_token, refresh_token FROM connections WHERE (access_token IS NOT NULL OR refresh_token IS NOT NULL) AND (action_id, user_id) > ($1, $2) ORDER BY action_id, user_id LIMIT $3"},
		{conn.CASQuery("refresh_token", d), "UPDATE connections SET refresh_token = $1 WHERE action_id = $2 AND user_id = $3 AND refresh_token = $4"},
		{conn.CASQuery("access_token", q), "UPDATE connections SET access_token = ? WHERE action_id = ? AND user_id = ? AND access_token = ?"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got  %s\nwant %s", tc.got, tc.want)
		}
	}
}

// memTables is an in-memory backend for Rewrap: rows by table, in key order.
type memTables map[string][]SealedRow

func (m memTables) rewrap(batch int) Rewrap {
	return Rewrap{
		Backend: "mem",
		Batch:   batch,
		Read: func(_ context.Context, t SealedTable, after []any, limit int) ([]SealedRow, error) {
			var out []SealedRow
			for _, r := range m[t.Name] {
				if after != nil && r.Key[0].(string) <= after[0].(string) {
					continue
				}
				if len(out) == limit {
					break
				}
				out = append(out, r)
			}
			return out, nil
		},
		Write: func(_ context.Context, t SealedTable, pending []Replacement) (int, error) {
			n := 0
			for _, p := range pending {
				for _, r := range m[t.Name] {
					for i, c := range t.Columns {
						if c == p.Column && r.Key[0] == p.Key[0] && string(r.Values[i]) == string(p.Old) {
							r.Values[i] = p.New
							n++
						}
					}
				}
			}
			return n, nil
		},
	}
}

// TestRewrapRun: every value of every sealed table is visited once across
// batches, absent values are skipped, unchanged ones not written, and an
// error or an empty replacement stops the run. (The backends' conformance
// suite runs the same walk against real databases.)
func TestRewrapRun(t *testing.T) {
	m := memTables{
		"actions": {
			{Key: []any{"a1"}, Values: [][]byte{[]byte("old:1")}},
			{Key: []any{"a2"}, Values: [][]byte{nil}},
			{Key: []any{"a3"}, Values: [][]byte{[]byte("new:3")}},
		},
		"connections": {
			{Key: []any{"c1", "u"}, Values: [][]byte{[]byte("old:at"), []byte("old:rt")}},
			{Key: []any{"c2", "u"}, Values: [][]byte{[]byte("old:at2"), nil}},
		},
		"sign_in_states": {{Key: []any{"h"}, Values: [][]byte{[]byte("old:v")}}},
	}
	seen := map[string]int{}
	fn := func(b []byte) ([]byte, bool, error) {
		seen[string(b)]++
		if string(b[:4]) == "new:" {
			return b, false, nil
		}
		return append([]byte("new:"), b[4:]...), true, nil
	}
	n, err := m.rewrap(2).Run(t.Context(), fn)
	if err != nil || n != 5 {
		t.Fatalf("Run: %d, %v; want 5 replaced", n, err)
	}
	for v, c := range seen {
		if c != 1 {
			t.Errorf("%s visited %d times", v, c)
		}
	}
	if len(seen) != 6 {
		t.Errorf("visited %d values, want 6: %v", len(seen), seen)
	}
	if got := string(m["connections"][0].Values[1]); got != "new:rt" {
		t.Errorf("refresh token after rewrap: %s", got)
	}

	boom := errors.New("boom")
	if _, err := m.rewrap(2).Run(t.Context(), func([]byte) ([]byte, bool, error) { return nil, false, boom }); err != boom {
		t.Errorf("fn's error: %v, want it as is", err)
	}
	if _, err := m.rewrap(2).Run(t.Context(), func([]byte) ([]byte, bool, error) { return nil, true, nil }); err == nil {
		t.Error("an empty replacement was accepted")
	}
	if _, err := m.rewrap(0).Run(t.Context(), fn); err == nil {
		t.Error("batch 0 accepted")
	}
}
