package gateway

import (
	"context"
	"encoding/json"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/store"
)

// Audit event types: credential events only, never a secret.
const (
	EventActionCreated       = "action.created"
	EventActionUpdated       = "action.updated"
	EventActionDeleted       = "action.deleted"
	EventAuthChanged         = "action.auth_changed"
	EventConnectionCreated   = "connection.created"
	EventConnectionRefreshed = "connection.refreshed"
	EventConnectionReauth    = "connection.needs_reauth"
	EventConnectionRevoked   = "connection.revoked"
	EventTokenCreated        = "token.created"
	EventTokenRevoked        = "token.revoked"
	EventKeyRotated          = "key.rotated"
)

type actorKey struct{}

// WithActor names who is acting (an API token id, "cli") for the audit log.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor in ctx, or "system".
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "system"
}

// audit appends an event. A failure to record is logged, never fatal to the
// operation it describes (which has already happened).
func (g *Gateway) audit(ctx context.Context, typ, actionID, user string, detail map[string]any) {
	var d string
	if len(detail) > 0 {
		b, _ := json.Marshal(detail)
		d = string(b)
	}
	_, err := g.store.AppendAudit(context.WithoutCancel(ctx), store.AuditEvent{
		Time: g.now().UTC(), Actor: ActorFrom(ctx), Type: typ, ActionID: actionID, User: user, Detail: d,
	})
	if err != nil {
		g.log.Error("audit append failed", "type", typ, "action", actionID, "err", err)
	}
}

// AuditEvent is an audit record as the API shows it.
type AuditEvent struct {
	ID       int64           `json:"id"`
	Time     string          `json:"time"`
	Actor    string          `json:"actor"`
	Type     string          `json:"type"`
	ActionID string          `json:"action_id,omitempty"`
	User     string          `json:"user,omitempty"`
	Detail   json.RawMessage `json:"detail,omitempty"`
}

// Audit lists audit events.
func (g *Gateway) Audit(ctx context.Context, f store.AuditFilter) ([]AuditEvent, error) {
	if f.Limit < 0 || f.Limit > 1000 {
		return nil, apierr.New(apierr.InvalidRequest, "limit: must be between 1 and 1000")
	}
	es, err := g.store.ListAudit(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]AuditEvent, len(es))
	for i, e := range es {
		out[i] = AuditEvent{ID: e.ID, Time: e.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), Actor: e.Actor,
			Type: e.Type, ActionID: e.ActionID, User: e.User}
		if e.Detail != "" && json.Valid([]byte(e.Detail)) {
			out[i].Detail = json.RawMessage(e.Detail)
		} else if e.Detail != "" {
			out[i].Detail, _ = json.Marshal(e.Detail)
		}
	}
	return out, nil
}
