package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/openapi"
	"github.com/actiongate/actiongate/internal/store"
	"github.com/actiongate/actiongate/internal/tools"
)

// ToolCall is the body of POST /v1/tools/call.
type ToolCall struct {
	User      string         `json:"user"`
	Name      string         `json:"name"`
	Arguments map[string]any `json:"arguments"`
	Confirmed bool           `json:"confirmed"`
}

// ToolSet is the tools of every action at one moment, named together (package tools). It is
// shared: treat it and its tools as read-only.
type ToolSet struct {
	// Version changes whenever an action is created, changed or deleted.
	Version string
	// Tools of every action, actions by creation time, operations in document order.
	Tools  []tools.Tool
	byName map[string]int
}

// Lookup finds a tool by name.
func (s *ToolSet) Lookup(name string) (tools.Tool, bool) {
	i, ok := s.byName[name]
	if !ok {
		return tools.Tool{}, false
	}
	return s.Tools[i], true
}

// toolCache keeps each action's tools, generated once per action version (updated_at), and
// the last named set. A tool list therefore costs one ListActions and, when nothing changed,
// nothing more; the 288 operations of a large document are not rendered again per request.
// What it keeps per action is bounded whatever the document: tools.Generate renders argument
// schemas within per-action bounds (tools.MaxActionNodes and the others) and omits those that
// do not fit, and the parsed document keeps no rendered schemas.
type toolCache struct {
	mu      sync.Mutex
	actions map[string]actionTools // by action id
	set     *ToolSet
}

type actionTools struct {
	updatedAt time.Time
	name      string
	tools     []tools.Tool
}

// ToolSet returns the current tools of every action. An action whose stored document no
// longer imports is left out (and logged) rather than failing every tool list.
func (g *Gateway) ToolSet(ctx context.Context) (*ToolSet, error) {
	as, err := g.store.ListActions(ctx)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(as, func(i, j int) bool {
		if !as[i].CreatedAt.Equal(as[j].CreatedAt) {
			return as[i].CreatedAt.Before(as[j].CreatedAt)
		}
		return as[i].ID < as[j].ID
	})
	h := sha256.New()
	for _, a := range as {
		h.Write([]byte(a.ID + "\x00" + a.UpdatedAt.UTC().Format(time.RFC3339Nano) + "\x00" + a.Name + "\x00"))
	}
	version := hex.EncodeToString(h.Sum(nil)[:12])

	tc := &g.tools
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.set != nil && tc.set.Version == version {
		return tc.set, nil
	}
	if tc.actions == nil {
		tc.actions = map[string]actionTools{}
	}
	present := make(map[string]bool, len(as))
	var all []tools.Tool
	for _, a := range as {
		present[a.ID] = true
		at, ok := tc.actions[a.ID]
		if !ok || !at.updatedAt.Equal(a.UpdatedAt) || at.name != a.Name {
			ts, err := g.generateTools(ctx, a)
			if err != nil {
				if errors.Is(err, store.ErrNotFound) || apierr.From(err).Code == apierr.NotFound {
					continue // deleted meanwhile
				}
				g.log.Warn("tools: action left out", "action", a.ID, "err", err)
				continue
			}
			at = actionTools{updatedAt: a.UpdatedAt, name: a.Name, tools: ts}
			tc.actions[a.ID] = at
		}
		all = append(all, at.tools...) // copies: AssignNames must not rename the cached tools
	}
	for id := range tc.actions {
		if !present[id] {
			delete(tc.actions, id)
		}
	}
	tools.AssignNames(all)
	set := &ToolSet{Version: version, Tools: all, byName: make(map[string]int, len(all))}
	for i, t := range all {
		set.byName[t.Name] = i
	}
	tc.set = set
	return set, nil
}

func (g *Gateway) generateTools(ctx context.Context, a store.Action) ([]tools.Tool, error) {
	c, err := g.load(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	ts := tools.Generate(c.doc, tools.Action{
		ID:       c.action.ID,
		Name:     c.action.Name,
		Revision: c.action.UpdatedAt.UTC().Format(time.RFC3339Nano),
		Strip: func(op *openapi.Operation) []openapi.Credential {
			return g.placement(c, op).strip()
		},
	})
	omitted := 0
	for _, t := range ts {
		if t.SchemaOmitted {
			omitted++
		}
	}
	if omitted > 0 {
		g.log.Warn("tools: argument schemas too large, omitted", "action", a.ID, "tools", len(ts), "omitted", omitted)
	}
	return ts, nil
}

// Tools returns the tools of every action, or of one when actionID is set (not_found when it
// does not exist). The slice is shared: do not modify it.
func (g *Gateway) Tools(ctx context.Context, actionID string) ([]tools.Tool, error) {
	set, err := g.ToolSet(ctx)
	if err != nil {
		return nil, err
	}
	if actionID == "" {
		return set.Tools, nil
	}
	var out []tools.Tool
	for _, t := range set.Tools {
		if t.ActionID == actionID {
			out = append(out, t)
		}
	}
	if out == nil {
		if _, err := g.load(ctx, actionID); err != nil {
			return nil, err
		}
		out = []tools.Tool{}
	}
	return out, nil
}

// CallTool calls the operation a tool stands for, exactly as Invoke does (the same errors and
// the same confirmation rule); an unknown name is not_found.
func (g *Gateway) CallTool(ctx context.Context, in ToolCall) (*Result, error) {
	return g.CallToolIn(ctx, nil, in)
}

// CallToolIn is CallTool with the name looked up in set, a ToolSet the caller just read (nil:
// read the current one).
func (g *Gateway) CallToolIn(ctx context.Context, set *ToolSet, in ToolCall) (*Result, error) {
	if in.Name == "" {
		return nil, apierr.New(apierr.InvalidRequest, "name: required")
	}
	if set == nil {
		var err error
		if set, err = g.ToolSet(ctx); err != nil {
			return nil, err
		}
	}
	t, ok := set.Lookup(in.Name)
	if !ok {
		return nil, apierr.New(apierr.NotFound, "tool %q not found", in.Name)
	}
	return g.Invoke(ctx, t.ActionID, InvokeRequest{User: in.User, Operation: t.Operation, Arguments: in.Arguments, Confirmed: in.Confirmed})
}
