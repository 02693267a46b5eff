package server

import (
	"net/http"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/tools"
)

// listTools answers GET /v1/tools?format=openai|anthropic|mcp[&action=id].
func (s *Server) listTools(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var render func([]tools.Tool) any
	switch format := q.Get("format"); format {
	case "", "openai":
		render = func(ts []tools.Tool) any { return tools.OpenAI(ts) }
	case "anthropic":
		render = func(ts []tools.Tool) any { return tools.Anthropic(ts) }
	case "mcp":
		render = func(ts []tools.Tool) any { return tools.MCP(ts) }
	default:
		return apierr.New(apierr.InvalidRequest, "format: must be openai, anthropic or mcp, not %q", format)
	}
	ts, err := s.gw.Tools(r.Context(), q.Get("action"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tools": render(ts)})
	return nil
}

// callTool answers POST /v1/tools/call {"user", "name", "arguments", "confirmed"}: the same
// answers and errors as invoke.
func (s *Server) callTool(w http.ResponseWriter, r *http.Request) error {
	var in gateway.ToolCall
	if err := decode(r, &in); err != nil {
		return err
	}
	user, err := forUser(r, in.User)
	if err != nil {
		return err
	}
	in.User = user
	if err := s.perUser.allow(in.User, "user"); err != nil {
		return err
	}
	res, err := s.gw.CallTool(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
