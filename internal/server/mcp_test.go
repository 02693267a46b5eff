package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/actiongate/actiongate/internal/apitoken"
	"github.com/actiongate/actiongate/internal/oauth/oauthtest"
	"github.com/actiongate/actiongate/internal/server"
	"github.com/actiongate/actiongate/internal/store/sqlite"
)

// The MCP tests run with the SDK's own client, on the newest protocol (2026-07-28: stateless,
// elicitation by multi round-trip) and on 2025-11-25 (a session; the server asks the client
// within the call).
var mcpProtocols = []string{"", "2025-11-25"}

func protoName(p string) string {
	if p == "" {
		return "latest"
	}
	return p
}

// headers adds fixed headers to every request of an MCP client.
type headers struct {
	base http.RoundTripper
	h    http.Header
}

func (t headers) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.h {
		r.Header[k] = v
	}
	return t.base.RoundTrip(r)
}

// mcpConnect opens an MCP session to base/mcp with the token and, when set, the user header.
func mcpConnect(t *testing.T, base, token, user, proto string, opts *mcp.ClientOptions) (*mcp.ClientSession, error) {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	if user != "" {
		h.Set("X-Actiongate-User", user)
	}
	transport := &mcp.StreamableClientTransport{
		Endpoint:   base + "/mcp",
		HTTPClient: &http.Client{Transport: headers{http.DefaultTransport, h}},
		MaxRetries: -1,
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "actiongate-test", Version: "1"}, opts)
	var so *mcp.ClientSessionOptions
	if proto != "" {
		so = &mcp.ClientSessionOptions{ProtocolVersion: proto}
	}
	cs, err := client.Connect(context.Background(), transport, so)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs, nil
}

func mustConnect(t *testing.T, base, token, user, proto string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	cs, err := mcpConnect(t, base, token, user, proto, opts)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	want := proto
	if want == "" {
		want = "2026-07-28"
	}
	if got := cs.InitializeResult().ProtocolVersion; got != want {
		t.Fatalf("negotiated protocol %s, want %s", got, want)
	}
	if legacy := proto != ""; legacy != (cs.ID() != "") {
		t.Fatalf("protocol %s: session id %q", want, cs.ID())
	}
	return cs
}

func toolNames(t *testing.T, cs *mcp.ClientSession) map[string]*mcp.Tool {
	t.Helper()
	out := map[string]*mcp.Tool{}
	for tool, err := range cs.Tools(t.Context(), nil) {
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		out[tool.Name] = tool
	}
	return out
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (*mcp.CallToolResult, string) {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("tools/call %s: %v", name, err)
	}
	var text []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text = append(text, tc.Text)
		}
	}
	return res, strings.Join(text, "\n")
}

// apiAnswer decodes a successful call's text: the invoke result.
func apiAnswer(t *testing.T, text string) map[string]any {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		t.Fatalf("result is not the API's answer as JSON: %q", text)
	}
	return r
}

var signInLine = regexp.MustCompile(`Sign in to 127\.0\.0\.1: (\S+)`)

// TestMCPSignInFlow drives /mcp through list → call → sign-in needed → sign in → call.
func TestMCPSignInFlow(t *testing.T) {
	for _, proto := range mcpProtocols {
		t.Run(protoName(proto), func(t *testing.T) {
			s := newStack(t)
			as, _ := oauthSetup(t, s, true, "post", oauthtest.Options{})
			as.SetUser("alice")
			cs := mustConnect(t, s.srv.URL, adminToken, "alice", proto, nil)

			ts := toolNames(t, cs)
			me := ts["fosite_me"]
			if me == nil || me.Annotations == nil || !me.Annotations.ReadOnlyHint || me.Description != "GET /me" {
				t.Fatalf("tools: %v", ts)
			}

			res, text := call(t, cs, "fosite_me", nil)
			m := signInLine.FindStringSubmatch(text)
			if !res.IsError || m == nil || !strings.HasPrefix(m[1], s.srv.URL+"/oauth/start?") {
				t.Fatalf("before sign-in: isError=%v %q", res.IsError, text)
			}
			if st, page := signIn(t, s, as, s.browser(), m[1]); st != 200 {
				t.Fatalf("sign-in: %d %s", st, page)
			}
			res, text = call(t, cs, "fosite_me", nil)
			if res.IsError {
				t.Fatalf("after sign-in: %q", text)
			}
			if r := apiAnswer(t, text); r["status"] != float64(200) || r["body"].(map[string]any)["sub"] != "alice" {
				t.Fatalf("after sign-in: %v", r)
			}

			// An action registered now is offered in the same session.
			n := notesUpstream(t)
			createNotes(t, s, n)
			if ts := toolNames(t, cs); ts["notes_listNotes"] == nil || ts["fosite_me"] == nil {
				t.Fatalf("after a new action: %v", ts)
			}
			res, text = call(t, cs, "notes_listNotes", map[string]any{"limit": 2})
			if res.IsError || apiAnswer(t, text)["status"] != float64(200) {
				t.Fatalf("new action's tool: %q", text)
			}
		})
	}
}

// TestMCPErrors: API errors and answers become tool results a model can act on.
func TestMCPErrors(t *testing.T) {
	s := newStack(t)
	n := notesUpstream(t)
	createNotes(t, s, n)
	_, _ = oauthSetup(t, s, true, "post", oauthtest.Options{})
	cs := mustConnect(t, s.srv.URL, adminToken, "", "", nil)

	res, text := call(t, cs, "notes_getNote", map[string]any{"id": "missing"})
	if r := apiAnswer(t, text); !res.IsError || r["status"] != float64(404) || r["body"].(map[string]any)["error"] != "no such note" {
		t.Fatalf("a 404 answer: isError=%v %q", res.IsError, text)
	}
	res, text = call(t, cs, "notes_getNote", map[string]any{"id": "1"})
	if res.IsError || apiAnswer(t, text)["status"] != float64(200) {
		t.Fatalf("a 200 answer: %q", text)
	}
	res, text = call(t, cs, "notes_listNotes", map[string]any{"limit": 500, "color": "red"})
	if !res.IsError || !strings.HasPrefix(text, "invalid_arguments: ") || !strings.Contains(text, "\n- color: unknown argument") ||
		!strings.Contains(text, "\n- limit: must be <= 100") {
		t.Fatalf("invalid arguments: %q", text)
	}
	// No user for an oauth action: the text says how to name one.
	res, text = call(t, cs, "fosite_me", nil)
	if !res.IsError || !strings.Contains(text, "X-Actiongate-User") {
		t.Fatalf("no user: %q", text)
	}
	// An unknown tool is a protocol error, as MCP says.
	if _, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "notes_nope"}); err == nil || !strings.Contains(err.Error(), "notes_nope") {
		t.Fatalf("unknown tool: %v", err)
	}
}

// TestMCPConfirmation: without elicitation, a consequential call is refused with an explanation
// until it carries "confirmed": true, which is not sent to the API.
func TestMCPConfirmation(t *testing.T) {
	s := newStack(t)
	n := notesUpstream(t)
	createNotes(t, s, n)
	cs := mustConnect(t, s.srv.URL, adminToken, "u-1", "", nil)

	create := toolNames(t, cs)["notes_createNote"]
	schema, _ := json.Marshal(create.InputSchema)
	if !strings.Contains(string(schema), `"confirmed":{"description":`) || !strings.Contains(create.Description, `"confirmed": true`) ||
		create.Annotations.ReadOnlyHint || create.Annotations.DestructiveHint == nil || *create.Annotations.DestructiveHint {
		t.Fatalf("createNote tool: %s %q %+v", schema, create.Description, create.Annotations)
	}

	// /v1/tools?format=mcp lists the same tool objects.
	_, listed, _ := toolList(t, s, "?format=mcp")
	for name, want := range listed {
		raw, _ := json.Marshal(toolNames(t, cs)[name])
		var got map[string]any
		_ = json.Unmarshal(raw, &got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: /mcp lists %v\n/v1/tools?format=mcp %v", name, got, want)
		}
	}

	res, text := call(t, cs, "notes_createNote", map[string]any{"text": "hi"})
	if !res.IsError || !strings.Contains(text, `"confirmed": true`) || !strings.Contains(text, "Ask the user") {
		t.Fatalf("unconfirmed: %q", text)
	}
	res, text = call(t, cs, "notes_createNote", map[string]any{"text": "hi", "confirmed": false})
	if !res.IsError || len(n.posts()) != 0 {
		t.Fatalf("confirmed false: %q, API called %d times", text, len(n.posts()))
	}
	res, text = call(t, cs, "notes_createNote", map[string]any{"text": "hi", "confirmed": true})
	if res.IsError || apiAnswer(t, text)["status"] != float64(201) {
		t.Fatalf("confirmed: %q", text)
	}
	if got := n.posts(); len(got) != 1 || got[0] != `{"text":"hi"}` {
		t.Fatalf("the API received %q", got)
	}
}

// TestMCPElicitation: a client that supports elicitation is asked for the user's yes with a form,
// and handed the sign-in link as a URL elicitation; the call then completes in one tools/call.
func TestMCPElicitation(t *testing.T) {
	for _, proto := range mcpProtocols {
		t.Run(protoName(proto), func(t *testing.T) {
			s := newStack(t)
			n := notesUpstream(t)
			createNotes(t, s, n)
			as, _ := oauthSetup(t, s, true, "post", oauthtest.Options{})
			as.SetUser("alice")

			var mu sync.Mutex
			var asked []*mcp.ElicitParams
			answer := "accept"
			var signInErr error
			opts := &mcp.ClientOptions{
				Capabilities: &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{
					Form: &mcp.FormElicitationCapabilities{}, URL: &mcp.URLElicitationCapabilities{},
				}},
				ElicitationHandler: func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
					mu.Lock()
					asked = append(asked, req.Params)
					a := answer
					mu.Unlock()
					if req.Params.Mode == "url" && a == "accept" {
						// The user opens the link and signs in before answering.
						if err := browserSignIn(ctx, as, req.Params.URL); err != nil {
							mu.Lock()
							signInErr = err
							mu.Unlock()
						}
						return &mcp.ElicitResult{Action: "accept"}, nil
					}
					if a != "accept" {
						return &mcp.ElicitResult{Action: a}, nil
					}
					return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}, nil
				},
			}
			cs := mustConnect(t, s.srv.URL, adminToken, "alice", proto, opts)
			lastAsked := func() *mcp.ElicitParams {
				mu.Lock()
				defer mu.Unlock()
				if len(asked) == 0 {
					return nil
				}
				return asked[len(asked)-1]
			}

			// Confirmation by form.
			res, text := call(t, cs, "notes_createNote", map[string]any{"text": "via form"})
			q := lastAsked()
			if res.IsError || q == nil || q.Mode != "form" || !strings.Contains(q.Message, "Notes: Create a note (POST /notes) changes data") ||
				!strings.Contains(q.Message, `{"text":"via form"}`) {
				t.Fatalf("form confirmation: isError=%v %q, asked %+v", res.IsError, text, q)
			}
			if got := n.posts(); len(got) != 1 || apiAnswer(t, text)["status"] != float64(201) {
				t.Fatalf("after the user's yes: %q, API got %q", text, got)
			}
			mu.Lock()
			answer = "decline"
			mu.Unlock()
			res, text = call(t, cs, "notes_createNote", map[string]any{"text": "declined"})
			if !res.IsError || !strings.Contains(text, "did not allow") || len(n.posts()) != 1 {
				t.Fatalf("after the user's no: %q, API got %q", text, n.posts())
			}

			// Declining the sign-in link: the result still carries it.
			res, text = call(t, cs, "fosite_me", nil)
			if q := lastAsked(); q.Mode != "url" || !strings.HasPrefix(q.URL, s.srv.URL+"/oauth/start?") ||
				!strings.Contains(q.Message, "Sign in to 127.0.0.1") || q.ElicitationID == "" {
				t.Fatalf("url elicitation: %+v", q)
			}
			if !res.IsError || !signInLine.MatchString(text) {
				t.Fatalf("declined sign-in: %q", text)
			}

			// Accepting it: the user signs in, and the same tools/call returns the API's answer.
			mu.Lock()
			answer = "accept"
			mu.Unlock()
			res, text = call(t, cs, "fosite_me", nil)
			mu.Lock()
			err := signInErr
			mu.Unlock()
			if err != nil {
				t.Fatalf("signing in from the elicitation: %v", err)
			}
			if res.IsError || apiAnswer(t, text)["body"].(map[string]any)["sub"] != "alice" {
				t.Fatalf("after signing in through the elicitation: %q", text)
			}
		})
	}
}

// browserSignIn is a user's browser following a sign-in link (usable off the test goroutine).
func browserSignIn(ctx context.Context, as *oauthtest.Server, link string) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(link)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 302 {
		return fmt.Errorf("sign-in link: %d", resp.StatusCode)
	}
	cb, err := as.Authorize(ctx, resp.Header.Get("Location"))
	if err != nil {
		return err
	}
	resp, err = c.Get(cb.String())
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("callback: %d", resp.StatusCode)
	}
	return nil
}

// tokenServer serves the stack's gateway with a token store, so that POST /v1/tokens works
// (newStack checks only the bootstrap token). It opens the stack's database a second time.
func tokenServer(t *testing.T, s *stack) *httptest.Server {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(s.dir, "actiongate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv := httptest.NewServer(server.New(server.Options{Gateway: s.gw, DB: db,
		Tokens: apitoken.New(db, hashOf(adminToken), nil)}))
	t.Cleanup(srv.Close)
	return srv
}

func createToken(t *testing.T, base string, body map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", base+"/v1/tokens", strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 201 || tok.Token == "" {
		t.Fatalf("create token: %d %v", resp.StatusCode, err)
	}
	return tok.Token
}

// TestMCPAuthentication: a per-user token needs no user header and cannot act for anyone else;
// tokens without the invoke scope and missing or wrong tokens are refused.
func TestMCPAuthentication(t *testing.T) {
	s := newStack(t)
	as, _ := oauthSetup(t, s, true, "post", oauthtest.Options{})
	as.SetUser("alice")
	srv := tokenServer(t, s)
	alice := createToken(t, srv.URL, map[string]any{"name": "alice-mcp", "scopes": []string{"invoke"}, "user": "alice"})
	adminOnly := createToken(t, srv.URL, map[string]any{"name": "admin-only", "scopes": []string{"admin"}})

	cs := mustConnect(t, srv.URL, alice, "", "", nil)
	res, text := call(t, cs, "fosite_me", nil)
	m := signInLine.FindStringSubmatch(text)
	if !res.IsError || m == nil {
		t.Fatalf("per-user token, before sign-in: %q", text)
	}
	if st, page := signIn(t, s, as, s.browser(), m[1]); st != 200 {
		t.Fatalf("sign-in: %d %s", st, page)
	}
	res, text = call(t, cs, "fosite_me", nil)
	if res.IsError || apiAnswer(t, text)["body"].(map[string]any)["sub"] != "alice" {
		t.Fatalf("per-user token after sign-in: %q", text)
	}
	// Naming its own user is fine; /v1/tools/call follows the same rule.
	mustConnect(t, srv.URL, alice, "alice", "", nil)

	for name, c := range map[string]struct{ token, user, want string }{
		"per-user token for another user": {alice, "bob", "Forbidden"},
		"no invoke scope":                 {adminOnly, "alice", "Forbidden"},
		"no token":                        {"", "alice", "Unauthorized"},
		"wrong token":                     {"agt_wrong", "alice", "Unauthorized"},
	} {
		for _, proto := range mcpProtocols {
			_, err := mcpConnect(t, srv.URL, c.token, c.user, proto, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s (%s): connect error %v, want %s", name, protoName(proto), err, c.want)
			}
		}
	}

	// The same principal rules on the plain HTTP answer, in the contract's error shape.
	req, _ := http.NewRequest("POST", srv.URL+"/mcp", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+alice)
	req.Header.Set("X-Actiongate-User", "bob")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 403 || errCode(body) != "forbidden" {
		t.Fatalf("raw request for another user: %d %v", resp.StatusCode, body)
	}
	b, _ := json.Marshal(map[string]any{"user": "bob", "name": "fosite_me"})
	req, _ = http.NewRequest("POST", srv.URL+"/v1/tools/call", strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+alice)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("tools/call for another user: %d", resp.StatusCode)
	}
}

// TestMCPSessionBoundToCaller: a session opened for one user cannot be used with another user's
// header (the SDK compares the caller of every request with the session's).
func TestMCPSessionBoundToCaller(t *testing.T) {
	s := newStack(t)
	createNotes(t, s, notesUpstream(t))
	var mu sync.Mutex
	var sessionID string
	h := http.Header{"Authorization": {"Bearer " + adminToken}, "X-Actiongate-User": {"alice"}}
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		for k, v := range h {
			r.Header[k] = v
		}
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil && resp.Header.Get("Mcp-Session-Id") != "" {
			mu.Lock()
			sessionID = resp.Header.Get("Mcp-Session-Id")
			mu.Unlock()
		}
		return resp, err
	})
	client := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: s.srv.URL + "/mcp",
		HTTPClient: &http.Client{Transport: rt}, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	mu.Lock()
	id := sessionID
	mu.Unlock()
	if id == "" {
		t.Fatal("no session id")
	}
	req, _ := http.NewRequest("POST", s.srv.URL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/list"}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("X-Actiongate-User", "mallory")
	req.Header.Set("Mcp-Session-Id", id)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("another user on the session: %d", resp.StatusCode)
	}
	if ts := toolNames(t, cs); !slices.Contains(keys(ts), "notes_listNotes") {
		t.Fatalf("the session's own user: %v", ts)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestMCPTransportErrorsAreJSON: what the SDK refuses before JSON-RPC (a
// malformed body, a wrong Content-Type, a DELETE without a session) is
// answered in the contract's error shape, not plain text.
func TestMCPTransportErrorsAreJSON(t *testing.T) {
	s := newStack(t)
	for _, c := range []struct {
		method, ctype, body string
		status              int
	}{
		{"POST", "application/json", `{"jsonrpc": "2.0", "id": 1, "method":`, 400},
		{"POST", "text/plain", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, 415},
		{"DELETE", "", "", 400},
	} {
		req, _ := http.NewRequest(c.method, s.srv.URL+"/mcp", strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Accept", "application/json, text/event-stream")
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		derr := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != c.status || derr != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
			errCode(body) == "" || !strings.HasPrefix(errField(body, "message"), "mcp: ") {
			t.Errorf("%s %s: %d %s %v (%v)", c.method, c.ctype, resp.StatusCode, resp.Header.Get("Content-Type"), body, derr)
		}
	}
}
