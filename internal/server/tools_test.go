package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/actiongate/actiongate/internal/oauth/oauthtest"
)

// notesSpec describes the notes API that notesUpstream serves.
func notesSpec(server string) string {
	return `openapi: 3.0.3
info: {title: Notes, version: "1"}
servers: [{url: "` + server + `"}]
paths:
  /notes:
    get:
      operationId: listNotes
      summary: List notes
      parameters: [{name: limit, in: query, schema: {type: integer, maximum: 100}}]
      responses: {"200": {description: the notes}}
    post:
      operationId: createNote
      summary: Create a note
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [text], properties: {text: {type: string}}}
      responses: {"201": {description: created}}
  /notes/{id}:
    get:
      operationId: getNote
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: the note}}
`
}

// notes is a fake notes API that records the notes created.
type notes struct {
	srv     *httptest.Server
	mu      sync.Mutex
	created []string // request bodies of POST /notes
}

func notesUpstream(t *testing.T) *notes {
	t.Helper()
	n := &notes{}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/notes":
			fmt.Fprint(w, `[{"id":"1","text":"hello"}]`)
		case r.Method == "POST" && r.URL.Path == "/notes":
			b, _ := io.ReadAll(r.Body)
			n.mu.Lock()
			n.created = append(n.created, string(b))
			n.mu.Unlock()
			w.WriteHeader(201)
			fmt.Fprint(w, `{"id":"2"}`)
		case r.URL.Path == "/notes/1":
			fmt.Fprint(w, `{"id":"1","text":"hello"}`)
		default:
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":"no such note"}`)
		}
	}))
	t.Cleanup(n.srv.Close)
	return n
}

func (n *notes) posts() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.created...)
}

// createNotes registers the notes API as a `none` action.
func createNotes(t *testing.T, s *stack, n *notes) string {
	t.Helper()
	st, a := s.api("POST", "/v1/actions", map[string]any{"name": "Notes", "schema": notesSpec(n.srv.URL), "auth": map[string]any{"type": "none"}})
	if st != 201 {
		t.Fatalf("create: %d %v", st, a)
	}
	return a["id"].(string)
}

// toolList fetches GET /v1/tools with a query and returns the tools by name.
func toolList(t *testing.T, s *stack, query string) (int, map[string]map[string]any, map[string]any) {
	t.Helper()
	st, body := s.api("GET", "/v1/tools"+query, nil)
	out := map[string]map[string]any{}
	list, _ := body["tools"].([]any)
	for _, x := range list {
		tool := x.(map[string]any)
		name, _ := tool["name"].(string)
		if f, ok := tool["function"].(map[string]any); ok {
			name, _ = f["name"].(string)
		}
		if _, dup := out[name]; dup {
			t.Errorf("tool %q listed twice", name)
		}
		out[name] = tool
	}
	if st == 200 && body["tools"] == nil {
		t.Errorf("no tools array: %v", body)
	}
	return st, out, body
}

func TestToolsEndpointFormats(t *testing.T) {
	s := newStack(t)
	n := notesUpstream(t)
	notesID := createNotes(t, s, n)
	_, fositeID := oauthSetup(t, s, true, "post", oauthtest.Options{})

	st, openai, _ := toolList(t, s, "?format=openai")
	if st != 200 || len(openai) != 4 {
		t.Fatalf("openai: %d %v", st, openai)
	}
	create := openai["notes_createNote"]
	fn := create["function"].(map[string]any)
	params := fn["parameters"].(map[string]any)
	if create["type"] != "function" || params["type"] != "object" || params["properties"].(map[string]any)["text"] == nil ||
		fmt.Sprint(params["required"]) != "[text]" || !strings.Contains(fn["description"].(string), "confirm") {
		t.Fatalf("openai tool: %v", create)
	}
	if _, ok := openai["fosite_me"]; !ok {
		t.Fatalf("the oauth action's tool is missing: %v", openai)
	}
	if st, def, _ := toolList(t, s, ""); st != 200 || !reflect.DeepEqual(def, openai) {
		t.Fatalf("no format is not the openai format: %d", st)
	}

	_, anthropic, _ := toolList(t, s, "?format=anthropic")
	if a := anthropic["notes_listNotes"]; a["input_schema"].(map[string]any)["type"] != "object" || a["description"] != "List notes" {
		t.Fatalf("anthropic tool: %v", a)
	}

	_, mcpTools, _ := toolList(t, s, "?format=mcp")
	list := mcpTools["notes_listNotes"]
	if ann := list["annotations"].(map[string]any); ann["readOnlyHint"] != true || list["inputSchema"] == nil {
		t.Fatalf("mcp list tool: %v", list)
	}
	mc := mcpTools["notes_createNote"]
	props := mc["inputSchema"].(map[string]any)["properties"].(map[string]any)
	if ann := mc["annotations"].(map[string]any); ann["readOnlyHint"] != false || ann["destructiveHint"] != false || props["confirmed"] == nil {
		t.Fatalf("mcp create tool: %v", mc)
	}

	// One action only; errors in the contract's shape.
	if st, one, _ := toolList(t, s, "?format=openai&action="+fositeID); st != 200 || len(one) != 1 || one["fosite_me"] == nil {
		t.Fatalf("one action: %d %v", st, one)
	}
	if st, _, body := toolList(t, s, "?action=act_nope"); st != 404 || errCode(body) != "not_found" {
		t.Fatalf("unknown action: %d %v", st, body)
	}
	if st, _, body := toolList(t, s, "?format=xml"); st != 400 || errCode(body) != "invalid_request" {
		t.Fatalf("unknown format: %d %v", st, body)
	}
	resp, err := http.Get(s.srv.URL + "/v1/tools")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}

	// A changed action's tools change (the cache is per version); a deleted one's go.
	st, _ = s.api("PUT", "/v1/actions/"+notesID, map[string]any{"name": "Notes", "schema": strings.Replace(notesSpec(n.srv.URL),
		"operationId: getNote", "operationId: readNote", 1), "auth": map[string]any{"type": "none"}})
	if st != 200 {
		t.Fatalf("update: %d", st)
	}
	if _, after, _ := toolList(t, s, ""); after["notes_readNote"] == nil || after["notes_getNote"] != nil {
		t.Fatalf("after update: %v", after)
	}
	if st, _ = s.api("DELETE", "/v1/actions/"+notesID, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if _, after, _ := toolList(t, s, ""); len(after) != 1 {
		t.Fatalf("after delete: %v", after)
	}
}

// TestToolsCallMatchesInvoke sends the same calls through invoke and through /v1/tools/call:
// the statuses, error codes, details and answers are the same.
func TestToolsCallMatchesInvoke(t *testing.T) {
	s := newStack(t)
	n := notesUpstream(t)
	notesID := createNotes(t, s, n)
	_, fositeID := oauthSetup(t, s, true, "post", oauthtest.Options{})

	cases := []struct {
		action, op, tool string
		user             string
		args             map[string]any
		confirmed        bool
		status           int
		code             string
	}{
		{notesID, "listNotes", "notes_listNotes", "", map[string]any{"limit": 5}, false, 200, ""},
		{notesID, "listNotes", "notes_listNotes", "", map[string]any{"limit": 500}, false, 400, "invalid_arguments"},
		{notesID, "listNotes", "notes_listNotes", "", map[string]any{"color": "red"}, false, 400, "invalid_arguments"},
		{notesID, "createNote", "notes_createNote", "", map[string]any{}, true, 400, "invalid_arguments"},
		{notesID, "createNote", "notes_createNote", "u-1", map[string]any{"text": "hi"}, false, 409, "confirmation_required"},
		{notesID, "createNote", "notes_createNote", "u-1", map[string]any{"text": "hi"}, true, 200, ""},
		{notesID, "createNote", "notes_createNote", "u-1", map[string]any{"text": "hi", "confirmed": true}, false, 400, "invalid_arguments"},
		{notesID, "getNote", "notes_getNote", "", map[string]any{"id": "missing"}, false, 200, ""},
		{fositeID, "me", "fosite_me", "alice", nil, false, 403, "sign_in_required"},
		{fositeID, "me", "fosite_me", "", nil, false, 400, "invalid_request"},
	}
	for _, c := range cases {
		stI, inv := s.api("POST", "/v1/actions/"+c.action+"/invoke", map[string]any{"user": c.user, "operation": c.op, "arguments": c.args, "confirmed": c.confirmed})
		stT, call := s.api("POST", "/v1/tools/call", map[string]any{"user": c.user, "name": c.tool, "arguments": c.args, "confirmed": c.confirmed})
		where := fmt.Sprintf("%s %v confirmed=%v", c.tool, c.args, c.confirmed)
		if stI != c.status || stT != c.status || errCode(inv) != c.code || errCode(call) != c.code {
			t.Errorf("%s: invoke %d %v, tools/call %d %v; want %d %q", where, stI, inv, stT, call, c.status, c.code)
			continue
		}
		if c.status == 200 {
			if !reflect.DeepEqual(inv["status"], call["status"]) || !reflect.DeepEqual(inv["body"], call["body"]) {
				t.Errorf("%s: answers differ: %v, %v", where, inv, call)
			}
			continue
		}
		ie, ce := inv["error"].(map[string]any), call["error"].(map[string]any)
		if c.args["confirmed"] != nil && !strings.Contains(fmt.Sprint(ie["details"]), `send "confirmed": true next to "arguments"`) {
			t.Errorf("%s: %v does not say where confirmed goes", where, ie["details"])
		}
		for _, f := range []string{"details", "operation", "domain", "message"} {
			if !reflect.DeepEqual(ie[f], ce[f]) {
				t.Errorf("%s: %s differs: %v, %v", where, f, ie[f], ce[f])
			}
		}
		if c.code == "sign_in_required" && (!strings.HasPrefix(ce["sign_in_url"].(string), s.srv.URL+"/oauth/start?") || ce["domain"] != "127.0.0.1") {
			t.Errorf("%s: sign-in error %v", where, ce)
		}
		if c.code == "confirmation_required" && ce["operation"] != "createNote" {
			t.Errorf("%s: confirmation error %v", where, ce)
		}
	}
	if got := n.posts(); len(got) != 2 || got[0] != `{"text":"hi"}` {
		t.Errorf("the API received %q, want the two confirmed creations", got)
	}

	for body, want := range map[string]string{
		`{"name": "notes_nope"}`:                       "404 not_found",
		`{"user": "u-1"}`:                              "400 invalid_request",
		`{"name": "notes_listNotes", "x": true}`:       "400 invalid_request",
		`{"name": "notes_listNotes", "arguments": []}`: "400 invalid_request",
	} {
		var v map[string]any
		_ = json.Unmarshal([]byte(body), &v)
		st, res := s.api("POST", "/v1/tools/call", v)
		if got := fmt.Sprintf("%d %s", st, errCode(res)); got != want {
			t.Errorf("%s: %s, want %s (%v)", body, got, want, res)
		}
	}
}

// TestOperationNameSuggestion: an operation id in the wrong case is answered
// with the right one.
func TestOperationNameSuggestion(t *testing.T) {
	s := newStack(t)
	id := createNotes(t, s, notesUpstream(t))
	st, res := s.api("POST", "/v1/actions/"+id+"/invoke", map[string]any{"operation": "listnotes"})
	if st != 404 || !strings.Contains(errField(res, "message"), `(did you mean "listNotes"?)`) {
		t.Fatalf("%d %v", st, res)
	}
}
