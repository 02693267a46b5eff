package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/actiongate/actiongate/internal/store"
)

// ListAudit's page size: the default for a Limit of 0 (or less) and the cap.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

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
// ignored. IDs increase in the order appends commit, since there is one writer,
// so paging with AfterID sees every event.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error) {
	var id int64
	err := s.write.QueryRowContext(ctx,
		`INSERT INTO audit_events (time, actor, type, action_id, user_id, detail)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		micros(e.Time), e.Actor, e.Type, e.ActionID, e.User, e.Detail).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("sqlite: append audit event: %w", err)
	}
	return id, nil
}

// ListAudit returns the events that match f in ascending ID order: at most
// f.Limit, 100 when it is 0 or less and 1000 when it is more.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	var q strings.Builder
	q.WriteString(`SELECT id, time, actor, type, action_id, user_id, detail FROM audit_events WHERE id > ?`)
	args := []any{f.AfterID}
	for _, c := range []struct{ column, value string }{
		{"action_id", f.ActionID},
		{"user_id", f.User},
		{"type", f.Type},
	} {
		if c.value != "" {
			q.WriteString(" AND " + c.column + " = ?")
			args = append(args, c.value)
		}
	}
	q.WriteString(` ORDER BY id LIMIT ?`)
	args = append(args, auditLimit(f.Limit))

	rows, err := s.read.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit events: %w", err)
	}
	defer rows.Close()
	var list []store.AuditEvent
	for rows.Next() {
		var (
			e  store.AuditEvent
			us int64
		)
		if err := rows.Scan(&e.ID, &us, &e.Actor, &e.Type, &e.ActionID, &e.User, &e.Detail); err != nil {
			return nil, fmt.Errorf("sqlite: list audit events: %w", err)
		}
		e.Time = fromMicros(us)
		list = append(list, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list audit events: %w", err)
	}
	return list, nil
}
