package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/openapi"
	"github.com/actiongate/actiongate/internal/store"
	"github.com/actiongate/actiongate/internal/tools"
)

// The MCP server at /mcp offers every action's operations as tools over Streamable HTTP, with
// the official SDK (github.com/modelcontextprotocol/go-sdk).
//
//   - Authentication is the API's: Authorization: Bearer <token> with the invoke scope. The end
//     user is named by the X-Actiongate-User header, or is the user a per-user token is bound
//     to (which may not act for anyone else). A session is bound to the token and user that
//     opened it (the SDK refuses the session to any other).
//   - One mcp.Server holds the tools of every action. Before each tools/list and tools/call
//     the registered tools are brought up to date with the actions (gateway.ToolSet: one
//     ListActions when nothing changed), so a new action shows up in the same session, and
//     sessions of the 2025 protocols are sent notifications/tools/list_changed.
//   - A call answers what invoke answers: the API's response as JSON text, isError when its
//     status is 400 or more; errors as isError results a model can act on. When the user must
//     sign in the text says "Sign in to {domain}: {url}"; a client that declared URL-mode
//     elicitation is handed the link that way first. A consequential operation needs the
//     argument "confirmed": true, or, when the client supports form elicitation, the user's
//     yes to a form. Elicitation uses the SDK's multi round-trip requests: on the 2026-07-28
//     protocol the client answers and calls again; on older protocols the SDK asks the
//     client within the call (which needs the stateful session it keeps).

const (
	// mcpSessionTimeout ends sessions (of the 2025 protocols) idle this long.
	mcpSessionTimeout = 30 * time.Minute
	// mcpSessionlessProtocol is the first MCP version without sessions (SEP-2575).
	mcpSessionlessProtocol = "2026-07-28"
)

// mcpHandler returns the /mcp endpoint.
func (s *Server) mcpHandler() http.Handler {
	m := &mcpTools{s: s, registered: map[string]string{}}
	// The SDK logs at info level for every session it opens and closes, which is every request
	// on the sessionless protocol: keep its warnings and errors only.
	sdkLog := slog.New(minLevel{s.log.Handler(), slog.LevelWarn})
	m.srv = mcp.NewServer(&mcp.Implementation{Name: "actiongate", Title: "actiongate", Version: "1"}, &mcp.ServerOptions{
		Instructions: "Each tool calls one operation of a third-party API for the user. A result that asks the user to sign in " +
			"carries a link: show it. Tools that change data need the user's explicit agreement first.",
		Logger:       sdkLog,
		Capabilities: &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{ListChanged: true}},
	})
	m.srv.AddReceivingMiddleware(m.refreshing)
	getServer := func(*http.Request) *mcp.Server { return m.srv }
	opts := mcp.StreamableHTTPOptions{
		Logger:              sdkLog,
		SessionTimeout:      mcpSessionTimeout,
		MaxRequestBodyBytes: s.maxBody,
		// Every request carries a bearer token, which a DNS-rebinding page cannot read or
		// send; the check would only refuse gateways behind a reverse proxy on localhost.
		DisableLocalhostProtection: true,
	}
	sessionless := opts
	sessionless.Stateless = true
	stateful := mcp.NewStreamableHTTPHandler(getServer, &opts)
	stateless := mcp.NewStreamableHTTPHandler(getServer, &sessionless)
	// The SDK serves protocol 2026-07-28 (sessionless, its requests carry the version in a
	// header) only statelessly, and the 2025 protocols' elicitation needs a session: each
	// request goes to the handler for its protocol.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Protocol-Version") >= mcpSessionlessProtocol {
			stateless.ServeHTTP(w, r)
			return
		}
		stateful.ServeHTTP(w, r)
	})
	// The SDK reads the caller from auth.TokenInfo: it binds sessions to TokenInfo.UserID and
	// hands TokenInfo to tool handlers. The principal was checked below; this only passes it on.
	bound := auth.RequireBearerToken(func(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
		id, ok := r.Context().Value(mcpCallerKey{}).(mcpCaller)
		if !ok {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{UserID: id.token + "\x00" + id.user, Scopes: id.scopes,
			Extra: map[string]any{mcpCallerExtra: id}}, nil
	}, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(h)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="actiongate"`)
			s.writeErr(w, r, err)
			return
		}
		if !p.Can(store.ScopeInvoke) {
			s.writeErr(w, r, apierr.New(apierr.Forbidden, "this API token lacks the %q scope", store.ScopeInvoke))
			return
		}
		if err := s.perTok.allow(p.TokenID, "API token"); err != nil {
			s.writeErr(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(gateway.WithActor(r.Context(), p.TokenID), principalKey{}, p))
		user, err := forUser(r, r.Header.Get(gateway.UserHeader))
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		if r.Method == http.MethodGet { // the standing stream: ended by CloseStreams
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			defer context.AfterFunc(s.streams, cancel)()
			r = r.WithContext(ctx)
		}
		id := mcpCaller{token: p.TokenID, user: user, scopes: p.Scopes}
		jw := &jsonTransportErrors{ResponseWriter: w}
		bound.ServeHTTP(jw, r.WithContext(context.WithValue(r.Context(), mcpCallerKey{}, id)))
		jw.finish()
	})
}

// jsonTransportErrors turns the SDK's plain-text transport errors (a malformed
// body, a wrong Content-Type, an unknown session) into the contract's JSON
// error shape; everything else, streams included, passes through as written.
type jsonTransportErrors struct {
	http.ResponseWriter
	status int // set when an error is being captured
	body   bytes.Buffer
}

func (w *jsonTransportErrors) WriteHeader(code int) {
	if code >= 400 && w.status == 0 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.status = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *jsonTransportErrors) Write(b []byte) (int, error) {
	if w.status != 0 {
		if w.body.Len() < 4<<10 {
			w.body.Write(b[:min(len(b), 4<<10-w.body.Len())])
		}
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *jsonTransportErrors) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && w.status == 0 {
		f.Flush()
	}
}

func (w *jsonTransportErrors) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish writes a captured error as JSON.
func (w *jsonTransportErrors) finish() {
	if w.status == 0 {
		return
	}
	code := map[int]string{http.StatusNotFound: apierr.NotFound, http.StatusMethodNotAllowed: apierr.MethodNotAllowed,
		http.StatusUnauthorized: apierr.Unauthorized, http.StatusForbidden: apierr.Forbidden,
		http.StatusRequestEntityTooLarge: apierr.PayloadTooLarge}[w.status]
	if code == "" {
		code = apierr.InvalidRequest
		if w.status >= 500 {
			code = apierr.Internal
		}
	}
	msg := "mcp: " + strings.TrimSpace(w.body.String())
	if code == apierr.Internal {
		msg = "internal error"
	}
	w.Header().Del("Content-Length")
	writeJSON(w.ResponseWriter, w.status, (&apierr.Error{Code: code, Message: msg}).Body())
}

type mcpCallerKey struct{}

const mcpCallerExtra = "actiongate.caller"

// mcpCaller is who an MCP request acts as: the API token and the end user.
type mcpCaller struct {
	token, user string
	scopes      []string
}

func callerOf(req *mcp.CallToolRequest) mcpCaller {
	if req.Extra == nil || req.Extra.TokenInfo == nil {
		return mcpCaller{}
	}
	id, _ := req.Extra.TokenInfo.Extra[mcpCallerExtra].(mcpCaller)
	return id
}

// mcpTools keeps the MCP server's tools in step with the actions.
type mcpTools struct {
	s   *Server
	srv *mcp.Server

	mu         sync.Mutex
	version    string            // of the gateway.ToolSet last registered
	registered map[string]string // tool name → action, operation and revision
}

type toolSetKey struct{}

// refreshing is receiving middleware: it updates the tools before they are listed or called,
// and hands the tool set it read on to the call.
func (m *mcpTools) refreshing(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method == "tools/list" || method == "tools/call" {
			set, err := m.s.gw.ToolSet(ctx)
			if err != nil {
				m.s.log.Error("mcp: tools unavailable", "err", err)
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "the tools are unavailable, try again later"}
			}
			m.refresh(set)
			ctx = context.WithValue(ctx, toolSetKey{}, set)
		}
		return next(ctx, method, req)
	}
}

// refresh registers the tools of set that changed since the last call and removes those gone.
func (m *mcpTools) refresh(set *gateway.ToolSet) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if set.Version == m.version {
		return
	}
	want := make(map[string]string, len(set.Tools))
	var changed []tools.Tool
	for _, t := range set.Tools {
		key := t.ActionID + "\x00" + t.Operation + "\x00" + t.Revision
		want[t.Name] = key
		if m.registered[t.Name] != key {
			changed = append(changed, t)
		}
	}
	var gone []string
	for name := range m.registered {
		if _, ok := want[name]; !ok {
			gone = append(gone, name)
		}
	}
	if len(gone) > 0 {
		m.srv.RemoveTools(gone...)
	}
	for _, t := range changed {
		if err := m.add(t); err != nil {
			m.s.log.Error("mcp: tool left out", "tool", t.Name, "err", err)
			delete(want, t.Name)
		}
	}
	m.registered, m.version = want, set.Version
}

// add registers a tool; the SDK panics on a schema it cannot use, which must not take the
// process down.
func (m *mcpTools) add(t tools.Tool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	mt := t.MCP()
	m.srv.AddTool(&mcp.Tool{
		Name:        mt.Name,
		Title:       mt.Title,
		Description: mt.Description,
		InputSchema: mt.InputSchema,
		Annotations: &mcp.ToolAnnotations{
			ReadOnlyHint:    mt.Annotations.ReadOnlyHint,
			DestructiveHint: mt.Annotations.DestructiveHint,
			IdempotentHint:  mt.Annotations.IdempotentHint,
			OpenWorldHint:   mt.Annotations.OpenWorldHint,
		},
	}, m.call)
	return nil
}

// Input request ids of the elicitations a call may ask for.
const (
	elicitConfirm = "confirm"
	elicitSignIn  = "sign_in"
)

// call handles tools/call for every tool.
func (m *mcpTools) call(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	name := req.Params.Name
	set, _ := ctx.Value(toolSetKey{}).(*gateway.ToolSet)
	if set == nil {
		var err error
		if set, err = m.s.gw.ToolSet(ctx); err != nil {
			return nil, err
		}
	}
	t, ok := set.Lookup(name)
	if !ok {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown tool %q", name)}
	}
	var args map[string]any
	if raw := strings.TrimSpace(string(req.Params.Arguments)); raw != "" && raw != "null" {
		if err := openapi.UnmarshalArguments(req.Params.Arguments, &args); err != nil {
			return errorResult("invalid_arguments: the arguments must be a JSON object"), nil
		}
	}
	confirmed := false
	if v, ok := args[t.ConfirmArgument()]; ok && t.Consequential {
		confirmed = v == true
		delete(args, t.ConfirmArgument()) // ours, not the API's (only consequential tools have it)
	}
	id := callerOf(req)
	ctx = gateway.WithActor(ctx, id.token)
	if err := m.s.perUser.allow(id.user, "user"); err != nil {
		return apiErrorResult(apierr.From(err), id.user), nil
	}
	answers := req.Params.InputResponses // non-nil on the call after an elicitation
	if a, asked := answers[elicitConfirm]; asked {
		if r, _ := a.(*mcp.ElicitResult); r == nil || r.Action != "accept" || r.Content["confirm"] != true {
			return errorResult(fmt.Sprintf("The user did not allow this call; %s was not called and nothing changed.", name)), nil
		}
		confirmed = true
	}

	res, err := m.s.gw.CallToolIn(ctx, set, gateway.ToolCall{User: id.user, Name: name, Arguments: args, Confirmed: confirmed})
	if err == nil {
		text, err := json.Marshal(res)
		if err != nil {
			return nil, err
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(text)}}, IsError: res.Status >= 400}, nil
	}
	e := apierr.From(err)
	switch e.Code {
	case apierr.ConfirmationRequired:
		if answers == nil && canElicit(req.Session, "form") {
			return confirmRequest(t, args), nil
		}
		return errorResult(fmt.Sprintf("%s changes data, so it needs the user's agreement. Ask the user; if they agree, "+
			"call %s again with the same arguments and %q: true.", name, name, t.ConfirmArgument())), nil
	case apierr.SignInRequired:
		link, _ := e.Extra["sign_in_url"].(string)
		domain, _ := e.Extra["domain"].(string)
		if answers == nil && canElicit(req.Session, "url") {
			return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{elicitSignIn: &mcp.ElicitParams{
				Mode:          "url",
				Message:       fmt.Sprintf("Sign in to %s so that %s can be used for you.", domain, t.ActionName),
				URL:           link,
				ElicitationID: randomID(),
			}}, RequestState: elicitSignIn}, nil
		}
		return errorResult(fmt.Sprintf("Sign in to %s: %s\nThe user must open this link and sign in (it is valid for 10 minutes); "+
			"then call %s again.", domain, link, name)), nil
	case apierr.Internal:
		m.s.log.Error("mcp: tool call failed", "tool", name, "err", err)
	}
	return apiErrorResult(e, id.user), nil
}

// confirmRequest asks the user, with a form, to allow a consequential call.
func confirmRequest(t tools.Tool, args map[string]any) *mcp.CallToolResult {
	shown, _ := json.Marshal(args)
	if len(shown) > 1000 {
		shown = append(shown[:997], "..."...)
	}
	msg := fmt.Sprintf("%s (%s %s) changes data. Allow this call?", t.Title, t.Method, t.Path)
	if len(args) > 0 {
		msg += "\nArguments: " + string(shown)
	}
	return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{elicitConfirm: &mcp.ElicitParams{
		Mode:    "form",
		Message: msg,
		RequestedSchema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"confirm": map[string]any{"type": "boolean", "title": "Allow", "description": "Allow " + t.Name + " to run"},
			},
			"required": []any{"confirm"},
		},
	}}, RequestState: elicitConfirm}
}

// canElicit reports whether the client declared elicitation in a mode ("form" or "url"). A
// client that names no mode supports form (MCP 2025-11-25).
func canElicit(ss *mcp.ServerSession, mode string) bool {
	if ss == nil {
		return false
	}
	p := ss.InitializeParams()
	if p == nil || p.Capabilities == nil || p.Capabilities.Elicitation == nil {
		return false
	}
	c := p.Capabilities.Elicitation
	if mode == "url" {
		return c.URL != nil
	}
	return c.Form != nil || c.URL == nil
}

func errorResult(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}, IsError: true}
}

// apiErrorResult writes an API error for a model: code, message and each detail.
func apiErrorResult(e *apierr.Error, user string) *mcp.CallToolResult {
	var b strings.Builder
	b.WriteString(e.Code + ": " + e.Message)
	for _, d := range e.Details {
		b.WriteString("\n- " + d)
	}
	if e.Code == apierr.InvalidRequest && user == "" && strings.HasPrefix(e.Message, "user:") {
		b.WriteString("\nThe MCP client must name the end user with the " + gateway.UserHeader + " header, or use a per-user API token.")
	}
	return errorResult(b.String())
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// minLevel drops records below a level.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
