package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/actiongate/actiongate/internal/store"
)

// ListAudit's page size: the default for a Limit of 0 (or less) and the cap.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// auditLockKey is the pg_advisory_xact_lock key that serializes audit appends:
// the bytes "actgaudt". Like the migration lock it is per database, so
// deployments in different schemas of one database take turns too.
const auditLockKey int64 = 0x6163746761756474

// auditLimit returns how many events ListAudit returns for f.Limit.
func auditLimit(n int) int {
	switch {
	case n <= 0:
		return defaultAuditLimit
	case n > maxAuditLimit:
		return maxAuditLimit
	}
	return n
}

// AppendAudit appends an event and returns the ID it was given; e.ID is
// ignored.
//
// An identity column alone hands out IDs in the order inserts start, not the
// order they commit: a reader paging with AfterID could see ID 6 and move past
// 5, still uncommitted, for good. So the insert runs in a transaction that first
// takes an advisory lock, which PostgreSQL releases only after the commit is
// visible: each append's ID is larger than every committed one, and a reader
// sees a prefix of the log. Appends from all replicas take turns, each for one
// insert.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, auditLockKey); err != nil {
			return err
		}
		return tx.QueryRow(ctx,
			`INSERT INTO audit_events (time, actor, type, action_id, user_id, detail)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			e.Time, e.Actor, e.Type, e.ActionID, e.User, e.Detail).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: append audit event: %w", err)
	}
	return id, nil
}

// ListAudit returns the events that match f in ascending ID order: at most
// f.Limit, 100 when it is 0 or less and 1000 when it is more.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	var q strings.Builder
	q.WriteString(`SELECT id, time, actor, type, action_id, user_id, detail FROM audit_events WHERE id > $1`)
	args := []any{f.AfterID}
	for _, c := range []struct{ column, value string }{
		{"action_id", f.ActionID},
		{"user_id", f.User},
		{"type", f.Type},
	} {
		if c.value != "" {
			args = append(args, c.value)
			q.WriteString(" AND " + c.column + " = $" + strconv.Itoa(len(args)))
		}
	}
	args = append(args, auditLimit(f.Limit))
	q.WriteString(" ORDER BY id LIMIT $" + strconv.Itoa(len(args)))

	rows, _ := s.pool.Query(ctx, q.String(), args...)
	list, err := pgx.AppendRows([]store.AuditEvent(nil), rows, func(r pgx.CollectableRow) (store.AuditEvent, error) {
		var e store.AuditEvent
		err := r.Scan(&e.ID, &e.Time, &e.Actor, &e.Type, &e.ActionID, &e.User, &e.Detail)
		e.Time = e.Time.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit events: %w", err)
	}
	return list, nil
}
