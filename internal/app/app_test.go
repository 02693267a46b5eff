package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/config"
	"github.com/actiongate/actiongate/internal/secrets"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gw is one running `actiongate serve`.
type gw struct {
	t         *testing.T
	responses []byte
	url       string
	token     string
	stdout    *syncBuffer
	stderr    *syncBuffer
	stop      func() error
}

const testToken = "test-admin-token-0123456789"

// start runs Serve on a free port with the data folder dir and extra env.
func start(t *testing.T, dir string, extra map[string]string) *gw {
	t.Helper()
	env := map[string]string{
		"ACTIONGATE_DATA_DIR":    dir,
		"ACTIONGATE_ADDR":        "127.0.0.1:0",
		"ACTIONGATE_ADMIN_TOKEN": testToken,
		"ACTIONGATE_LOG_LEVEL":   "debug",
	}
	for k, v := range extra {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	g := &gw{t: t, token: env["ACTIONGATE_ADMIN_TOKEN"], stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Env{
			Args:   []string{"serve"},
			Getenv: func(k string) string { return env[k] },
			Stdout: g.stdout, Stderr: g.stderr,
			Ready: func(addr string) { ready <- addr },
		})
	}()
	select {
	case addr := <-ready:
		g.url = "http://" + addr
	case err := <-done:
		cancel()
		t.Fatalf("serve exited: %v\n%s", err, g.stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	var once sync.Once
	var stopErr error
	g.stop = func() error {
		once.Do(func() { cancel(); stopErr = <-done })
		return stopErr
	}
	t.Cleanup(func() { _ = g.stop() })
	return g
}

// do sends a JSON request with the admin token and decodes the JSON answer.
func (g *gw) do(method, path string, body any) (int, map[string]any) {
	g.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, g.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	g.responses = append(g.responses, raw...)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			g.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// upstream records what the API received.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, r)
		u.body = append(u.body, string(b))
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Set-Cookie", "session=upstream-cookie")
		fmt.Fprintf(w, `{"ok":true,"path":%q,"query":%q}`, r.URL.EscapedPath(), r.URL.RawQuery)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last(t *testing.T) (*http.Request, string) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("upstream received nothing")
	}
	return u.reqs[len(u.reqs)-1], u.body[len(u.body)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// notesSpec is a small OpenAPI document served by srv.
func notesSpec(server string) string {
	return `openapi: 3.0.3
info: {title: Notes, version: "1"}
servers: [{url: "` + server + `/api"}]
paths:
  /notes/{noteId}:
    get:
      operationId: getNote
      parameters:
        - {name: noteId, in: path, required: true, schema: {type: string}}
        - {name: fields, in: query, schema: {type: array, items: {type: string}}}
        - {name: X-Trace, in: header, schema: {type: string}}
      responses: {"200": {description: ok}}
    delete:
      operationId: deleteNote
      parameters:
        - {name: noteId, in: path, required: true, schema: {type: string}}
      responses: {"204": {description: gone}}
  /notes:
    get:
      operationId: listNotes
      x-openai-isConsequential: false
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
      responses: {"200": {description: ok}}
    post:
      operationId: createNote
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [title]
              properties:
                title: {type: string}
                tags: {type: array, items: {type: string}}
      responses: {"201": {description: created}}
  /export:
    get:
      operationId: exportAll
      x-openai-isConsequential: true
      responses: {"200": {description: ok}}
`
}

func TestAPIKeyStylesSendExactlyTheRightHeader(t *testing.T) {
	up := newUpstream(t)
	g := start(t, t.TempDir(), map[string]string{"ACTIONGATE_ALLOW_PRIVATE_NETWORKS": "1"})
	cases := []struct {
		name   string
		auth   map[string]any
		header string
		want   string
	}{
		{"bearer", map[string]any{"type": "api_key", "api_key": "k-bearer-1", "auth_type": "bearer"}, "Authorization", "Bearer k-bearer-1"},
		{"basic user:pass", map[string]any{"type": "api_key", "api_key": "alice:pw-1", "auth_type": "basic"}, "Authorization",
			"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw-1"))},
		{"basic pre-encoded", map[string]any{"type": "api_key", "api_key": base64.StdEncoding.EncodeToString([]byte("bob:pw-2")), "auth_type": "basic"}, "Authorization",
			"Basic " + base64.StdEncoding.EncodeToString([]byte("bob:pw-2"))},
		{"custom", map[string]any{"type": "api_key", "api_key": "k-custom-3", "auth_type": "custom", "custom_header": "X-Api-Key"}, "X-Api-Key", "k-custom-3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, a := g.do("POST", "/v1/actions", map[string]any{"name": tc.name, "schema": notesSpec(up.URL), "auth": tc.auth})
			if st != 201 {
				t.Fatalf("create: %d %v", st, a)
			}
			auth := a["auth"].(map[string]any)
			if auth["has_api_key"] != true || auth["api_key"] != nil {
				t.Fatalf("auth in response: %v", auth)
			}
			st, res := g.do("POST", "/v1/actions/"+a["id"].(string)+"/invoke",
				map[string]any{"operation": "listNotes", "arguments": map[string]any{"limit": 5}})
			if st != 200 {
				t.Fatalf("invoke: %d %v", st, res)
			}
			r, _ := up.last(t)
			if got := r.Header.Get(tc.header); got != tc.want {
				t.Fatalf("%s = %q, want %q", tc.header, got, tc.want)
			}
			if tc.header != "Authorization" && r.Header.Get("Authorization") != "" {
				t.Fatalf("unexpected Authorization %q", r.Header.Get("Authorization"))
			}
			if res["status"] != float64(200) || res["body"].(map[string]any)["ok"] != true {
				t.Fatalf("result: %v", res)
			}
			if h := res["headers"].(map[string]any); h["set-cookie"] != nil || h["content-type"] != "application/json" {
				t.Fatalf("headers: %v", h)
			}
		})
	}
}

func TestDocumentDeclaredKeyAndStripping(t *testing.T) {
	up := newUpstream(t)
	g := start(t, t.TempDir(), map[string]string{"ACTIONGATE_ALLOW_PRIVATE_NETWORKS": "1"})
	spec := `openapi: 3.1.0
info: {title: Q25, version: "1"}
servers: [{url: "` + up.URL + `"}]
components:
  securitySchemes:
    qkey: {type: apiKey, in: query, name: api_key}
    hkey: {type: apiKey, in: header, name: X-Key}
security: [{qkey: []}]
paths:
  /a:
    get:
      operationId: inQuery
      parameters:
        - {name: api_key, in: query, schema: {type: string}}
        - {name: q, in: query, schema: {type: string}}
      responses: {"200": {description: ok}}
  /b:
    get:
      operationId: inHeader
      security: [{hkey: []}]
      responses: {"200": {description: ok}}
  /c:
    get:
      operationId: public
      security: []
      responses: {"200": {description: ok}}
`
	st, a := g.do("POST", "/v1/actions", map[string]any{"name": "q25", "schema": spec, "auth": map[string]any{"type": "api_key", "api_key": "doc-key-9"}})
	if st != 201 {
		t.Fatalf("create: %d %v", st, a)
	}
	id := a["id"].(string)

	st, res := g.do("POST", "/v1/actions/"+id+"/invoke", map[string]any{"operation": "inQuery", "arguments": map[string]any{"api_key": "model-chose", "q": "x"}})
	if st != 200 {
		t.Fatalf("inQuery: %d %v", st, res)
	}
	r, _ := up.last(t)
	if got := r.URL.Query()["api_key"]; len(got) != 1 || got[0] != "doc-key-9" {
		t.Fatalf("api_key query = %v (the model's value must be stripped)", got)
	}
	if r.URL.Query().Get("q") != "x" || r.Header.Get("Authorization") != "" {
		t.Fatalf("query %q auth %q", r.URL.RawQuery, r.Header.Get("Authorization"))
	}

	if st, res = g.do("POST", "/v1/actions/"+id+"/invoke", map[string]any{"operation": "inHeader"}); st != 200 {
		t.Fatalf("inHeader: %d %v", st, res)
	}
	if r, _ = up.last(t); r.Header.Get("X-Key") != "doc-key-9" || r.URL.Query().Get("api_key") != "" {
		t.Fatalf("X-Key %q query %q", r.Header.Get("X-Key"), r.URL.RawQuery)
	}

	if st, res = g.do("POST", "/v1/actions/"+id+"/invoke", map[string]any{"operation": "public"}); st != 200 {
		t.Fatalf("public: %d %v", st, res)
	}
	if r, _ = up.last(t); r.Header.Get("X-Key") != "" || r.URL.RawQuery != "" || r.Header.Get("Authorization") != "" {
		t.Fatalf("security: [] must send no credential: %v %q", r.Header, r.URL.RawQuery)
	}
}

func TestMappingValidationAndConfirmation(t *testing.T) {
	up := newUpstream(t)
	g := start(t, t.TempDir(), map[string]string{"ACTIONGATE_ALLOW_PRIVATE_NETWORKS": "true"})
	st, a := g.do("POST", "/v1/actions", map[string]any{"name": "notes", "schema": notesSpec(up.URL), "auth": map[string]any{"type": "none"}})
	if st != 201 {
		t.Fatalf("create: %d %v", st, a)
	}
	id := a["id"].(string)
	ops := map[string]bool{}
	for _, o := range a["operations"].([]any) {
		op := o.(map[string]any)
		ops[op["id"].(string)] = op["consequential"].(bool)
	}
	want := map[string]bool{"getNote": false, "deleteNote": true, "listNotes": false, "createNote": true, "exportAll": true}
	for k, v := range want {
		if c, ok := ops[k]; !ok || c != v {
			t.Errorf("operation %s: consequential=%v present=%v, want %v", k, c, ok, v)
		}
	}
	invoke := func(body map[string]any) (int, map[string]any) {
		return g.do("POST", "/v1/actions/"+id+"/invoke", body)
	}

	// Path (one escaped segment), query array (form, explode), header.
	st, res := invoke(map[string]any{"operation": "getNote", "arguments": map[string]any{"noteId": "a/b c", "fields": []any{"x", "y"}, "X-Trace": "t1"}})
	if st != 200 {
		t.Fatalf("getNote: %d %v", st, res)
	}
	r, _ := up.last(t)
	if r.URL.EscapedPath() != "/api/notes/a%2Fb%20c" || r.URL.RawQuery != "fields=x&fields=y" || r.Header.Get("X-Trace") != "t1" {
		t.Fatalf("path %q query %q trace %q", r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("X-Trace"))
	}

	// JSON body from flat arguments, confirmed.
	st, res = invoke(map[string]any{"operation": "createNote", "confirmed": true, "arguments": map[string]any{"title": "hi", "tags": []any{"a"}}})
	if st != 200 {
		t.Fatalf("createNote: %d %v", st, res)
	}
	r, body := up.last(t)
	var sent map[string]any
	if err := json.Unmarshal([]byte(body), &sent); err != nil || sent["title"] != "hi" || r.Method != "POST" ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("body %q (%v) method %s ct %q", body, err, r.Method, r.Header.Get("Content-Type"))
	}

	// Invalid arguments: every problem listed, nothing sent.
	n := up.count()
	st, res = invoke(map[string]any{"operation": "listNotes", "arguments": map[string]any{"limit": 500}})
	if st != 400 || errCode(res) != "invalid_arguments" || len(res["error"].(map[string]any)["details"].([]any)) == 0 {
		t.Fatalf("limit 500: %d %v", st, res)
	}
	st, res = invoke(map[string]any{"operation": "createNote", "confirmed": true, "arguments": map[string]any{"tags": "nope"}})
	if st != 400 || errCode(res) != "invalid_arguments" {
		t.Fatalf("missing title: %d %v", st, res)
	}
	if d := res["error"].(map[string]any)["details"].([]any); len(d) < 2 {
		t.Fatalf("want both problems (title missing, tags type), got %v", d)
	}
	if up.count() != n {
		t.Fatal("an invalid call reached the API")
	}

	// Consequential operations need confirmed: true.
	for _, op := range []string{"createNote", "deleteNote", "exportAll"} {
		args := map[string]any{"title": "x"}
		if op == "deleteNote" {
			args = map[string]any{"noteId": "1"}
		} else if op == "exportAll" {
			args = nil
		}
		st, res = invoke(map[string]any{"operation": op, "arguments": args})
		if st != 409 || errCode(res) != "confirmation_required" || res["error"].(map[string]any)["operation"] != op {
			t.Fatalf("%s unconfirmed: %d %v", op, st, res)
		}
	}
	if up.count() != n {
		t.Fatal("an unconfirmed call reached the API")
	}

	// Unknown operation and action.
	if st, res = invoke(map[string]any{"operation": "nope"}); st != 404 || errCode(res) != "not_found" {
		t.Fatalf("unknown op: %d %v", st, res)
	}
	if st, res = g.do("POST", "/v1/actions/act_missing/invoke", map[string]any{"operation": "x"}); st != 404 || errCode(res) != "not_found" {
		t.Fatalf("unknown action: %d %v", st, res)
	}
}

func TestDestinationGuard(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	g := start(t, dir, nil) // private networks not allowed
	for _, host := range []string{up.URL, strings.Replace(up.URL, "127.0.0.1", "localhost", 1)} {
		st, a := g.do("POST", "/v1/actions", map[string]any{"name": "local", "schema": notesSpec(host), "auth": map[string]any{"type": "none"}})
		if st != 201 {
			t.Fatalf("create: %d %v", st, a)
		}
		st, res := g.do("POST", "/v1/actions/"+a["id"].(string)+"/invoke", map[string]any{"operation": "listNotes"})
		if st != 403 || errCode(res) != "destination_blocked" {
			t.Fatalf("%s: %d %v", host, st, res)
		}
	}
	if up.count() != 0 {
		t.Fatal("a blocked call reached the API")
	}
	// Credentials are never sent over plain http unless private networks are allowed.
	st, a := g.do("POST", "/v1/actions", map[string]any{"name": "k", "schema": notesSpec("http://api.example.com"),
		"auth": map[string]any{"type": "api_key", "api_key": "k1", "auth_type": "bearer"}})
	if st != 201 {
		t.Fatalf("create: %d %v", st, a)
	}
	if st, res := g.do("POST", "/v1/actions/"+a["id"].(string)+"/invoke", map[string]any{"operation": "listNotes"}); st != 403 || errCode(res) != "destination_blocked" {
		t.Fatalf("http with credentials: %d %v", st, res)
	}
	_ = g.stop()

	g = start(t, dir, map[string]string{"ACTIONGATE_ALLOW_PRIVATE_NETWORKS": "1"})
	_, list := g.do("GET", "/v1/actions", nil)
	id := list["actions"].([]any)[0].(map[string]any)["id"].(string)
	if st, res := g.do("POST", "/v1/actions/"+id+"/invoke", map[string]any{"operation": "listNotes"}); st != 200 {
		t.Fatalf("allowed: %d %v", st, res)
	}
}

func TestUnauthorized(t *testing.T) {
	g := start(t, t.TempDir(), nil)
	for _, h := range []string{"", "Bearer wrong", "Basic " + testToken, "Bearer"} {
		req, _ := http.NewRequest("GET", g.url+"/v1/actions", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 401 || errCode(body) != "unauthorized" {
			t.Fatalf("%q: %d %v", h, resp.StatusCode, body)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(g.url + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, resp.StatusCode, err)
		}
		resp.Body.Close()
	}
}

func TestBadInputGetsClearErrors(t *testing.T) {
	g := start(t, t.TempDir(), nil)
	cases := []struct {
		body any
		code string
		want string
	}{
		{map[string]any{"name": "x", "schema": "openapi: 3.0.0", "auth": map[string]any{"type": "none"}, "extra": 1}, "invalid_request", "extra"},
		{map[string]any{"schema": notesSpec("https://a.example.com")}, "invalid_request", "name"},
		{map[string]any{"name": "x", "schema": notesSpec("https://a.example.com"), "auth": map[string]any{"type": "api_key"}}, "invalid_request", "api_key"},
		{map[string]any{"name": "x", "schema": notesSpec("https://a.example.com"), "auth": map[string]any{"type": "api_key", "api_key": "k", "auth_type": "custom"}}, "invalid_request", "custom_header"},
		{map[string]any{"name": "x", "schema": notesSpec("https://a.example.com"), "auth": map[string]any{"type": "magic"}}, "invalid_request", "auth.type"},
		{map[string]any{"name": "x", "schema": notesSpec("https://a.example.com"), "auth": map[string]any{"type": "api_key", "api_key": "sk-\x00abc"}}, "invalid_request", "auth.api_key"},
		{map[string]any{"name": "x", "schema": notesSpec("https://a.example.com"), "auth": map[string]any{"type": "api_key", "api_key": "sk-a\tb"}}, "invalid_request", "control characters"},
		{map[string]any{"name": "x", "schema": notesSpec("https://a.example.com"), "auth": map[string]any{"type": "oauth", "client_id": "c", "authorization_url": "ftp://x", "token_url": "https://t"}}, "invalid_request", "authorization_url"},
		{map[string]any{"name": "x", "schema": notesSpec("/relative"), "auth": map[string]any{"type": "none"}}, "invalid_schema", "server"},
		{map[string]any{"name": "x", "schema": "{not a document", "auth": map[string]any{"type": "none"}}, "invalid_schema", ""},
		{map[string]any{"name": 5}, "invalid_request", "name"},
	}
	for i, tc := range cases {
		st, res := g.do("POST", "/v1/actions", tc.body)
		if st != 400 || errCode(res) != tc.code {
			t.Errorf("case %d: %d %v, want 400 %s", i, st, res, tc.code)
			continue
		}
		msg, _ := json.Marshal(res["error"])
		if !strings.Contains(string(msg), tc.want) {
			t.Errorf("case %d: %s does not name %q", i, msg, tc.want)
		}
	}
	// Malformed JSON.
	req, _ := http.NewRequest("POST", g.url+"/v1/actions", strings.NewReader(`{"name": `))
	req.Header.Set("Authorization", "Bearer "+g.token)
	resp, _ := http.DefaultClient.Do(req)
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 400 || errCode(body) != "invalid_request" {
		t.Fatalf("malformed: %d %v", resp.StatusCode, body)
	}
	if st, res := g.do("GET", "/v1/actions", nil); st != 200 || len(res["actions"].([]any)) != 0 {
		t.Fatalf("bad input stored something: %v", res)
	}
}

// TestSecretsNeverLeakAndRestartKeepsActions stores an API key and an OAuth
// client secret, uses them, restarts, and then scans every byte of the data
// folder (database, WAL, everything), the logs and all responses.
func TestSecretsNeverLeakAndRestartKeepsActions(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	apiKey := "sk-live-LEAKCHECK-0f9e8d7c6b5a"
	clientSecret := "cs-LEAKCHECK-a1b2c3d4e5f6"
	g := start(t, dir, map[string]string{"ACTIONGATE_ALLOW_PRIVATE_NETWORKS": "1"})
	st, a := g.do("POST", "/v1/actions", map[string]any{"name": "keyed", "schema": notesSpec(up.URL),
		"auth": map[string]any{"type": "api_key", "api_key": apiKey, "auth_type": "custom", "custom_header": "X-Api-Key"}})
	if st != 201 {
		t.Fatalf("create: %d %v", st, a)
	}
	id := a["id"].(string)
	st, o := g.do("POST", "/v1/actions", map[string]any{"name": "oauth", "schema": notesSpec("https://api.example.com"),
		"auth": map[string]any{"type": "oauth", "client_id": "cid", "client_secret": clientSecret,
			"authorization_url": "https://auth.example.com/authorize", "token_url": "https://auth.example.com/token", "scope": "read"}})
	if st != 201 || o["auth"].(map[string]any)["has_client_secret"] != true {
		t.Fatalf("create oauth: %d %v", st, o)
	}
	if st, res := g.do("POST", "/v1/actions/"+id+"/invoke", map[string]any{"operation": "listNotes"}); st != 200 {
		t.Fatalf("invoke: %d %v", st, res)
	}
	// PUT without api_key keeps the stored key.
	st, a = g.do("PUT", "/v1/actions/"+id, map[string]any{"name": "keyed2", "schema": notesSpec(up.URL),
		"auth": map[string]any{"type": "api_key", "auth_type": "custom", "custom_header": "X-Api-Key"}})
	if st != 200 || a["name"] != "keyed2" || a["auth"].(map[string]any)["has_api_key"] != true {
		t.Fatalf("put: %d %v", st, a)
	}
	if err := g.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	responses := string(g.responses)
	logs := g.stderr.String() + g.stdout.String()

	g = start(t, dir, map[string]string{"ACTIONGATE_ALLOW_PRIVATE_NETWORKS": "1"})
	st, got := g.do("GET", "/v1/actions/"+id, nil)
	if st != 200 || got["name"] != "keyed2" {
		t.Fatalf("after restart: %d %v", st, got)
	}
	if st, res := g.do("POST", "/v1/actions/"+id+"/invoke", map[string]any{"operation": "listNotes"}); st != 200 {
		t.Fatalf("invoke after restart: %d %v", st, res)
	}
	if r, _ := up.last(t); r.Header.Get("X-Api-Key") != apiKey {
		t.Fatalf("key after restart and PUT: %q", r.Header.Get("X-Api-Key"))
	}
	responses += string(g.responses)
	// Scan while the second server runs (WAL present), then after it stops.
	scan := func(when string) {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{apiKey, clientSecret, "LEAKCHECK"} {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s: %s contains a secret in plaintext", when, p)
				}
			}
			return nil
		})
	}
	scan("running")
	_ = g.stop()
	scan("stopped")
	logs += g.stderr.String() + g.stdout.String()
	for name, text := range map[string]string{"responses": responses + string(g.responses), "logs": logs} {
		if strings.Contains(text, "LEAKCHECK") {
			t.Errorf("%s contain a secret", name)
		}
	}
	if !strings.Contains(logs, "action created") {
		t.Fatal("logs were not captured; the scan would prove nothing")
	}
}

func TestMasterKeyAndAdminTokenBootstrap(t *testing.T) {
	dir := t.TempDir()
	// No master key, no admin token: both generated; the token is printed once.
	g := start(t, dir, map[string]string{"ACTIONGATE_ADMIN_TOKEN": ""})
	out := g.stdout.String()
	i := strings.Index(out, "agt_")
	if i < 0 {
		t.Fatalf("no generated token printed: %q", out)
	}
	g.token = strings.Fields(out[i:])[0]
	if st, _ := g.do("GET", "/v1/actions", nil); st != 200 {
		t.Fatalf("generated token refused: %d", st)
	}
	if !strings.Contains(g.stderr.String(), "master key") {
		t.Fatalf("no warning about the generated master key: %s", g.stderr)
	}
	fi, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master.key: %v %v", fi, err)
	}
	tok := g.token
	_ = g.stop()
	if strings.Contains(g.stderr.String(), tok) {
		t.Fatal("the admin token reached the log")
	}

	g = start(t, dir, map[string]string{"ACTIONGATE_ADMIN_TOKEN": ""})
	g.token = tok
	if strings.Contains(g.stdout.String(), "agt_") {
		t.Fatal("token printed a second time")
	}
	if st, _ := g.do("GET", "/v1/actions", nil); st != 200 {
		t.Fatalf("token after restart refused: %d", st)
	}
	_ = g.stop()

	// A maintenance command run with another admin token in its environment
	// leaves the stored one alone (and prints no new one).
	var cliOut bytes.Buffer
	err = Run(context.Background(), Env{Args: []string{"tokens", "list"}, Stdout: &cliOut, Stderr: io.Discard, Getenv: func(k string) string {
		return map[string]string{"ACTIONGATE_DATA_DIR": dir, "ACTIONGATE_ADMIN_TOKEN": "another-admin-token-0123456789"}[k]
	}})
	if err != nil || strings.Contains(cliOut.String(), "agt_") {
		t.Fatalf("tokens list: %v %q", err, cliOut.String())
	}
	g = start(t, dir, map[string]string{"ACTIONGATE_ADMIN_TOKEN": ""})
	g.token = tok
	if st, _ := g.do("GET", "/v1/actions", nil); st != 200 {
		t.Fatalf("the stored admin token after a maintenance command: %d", st)
	}
	_ = g.stop()

	// A different master key fails start-up with a clear message.
	other, _ := secrets.GenerateKey()
	var stderr bytes.Buffer
	err = Run(context.Background(), Env{Args: []string{"serve"}, Stdout: io.Discard, Stderr: &stderr, Getenv: func(k string) string {
		return map[string]string{"ACTIONGATE_DATA_DIR": dir, "ACTIONGATE_ADDR": "127.0.0.1:0", "ACTIONGATE_MASTER_KEY": other.Encode()}[k]
	}})
	if err == nil || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestHelpExitsCleanly(t *testing.T) {
	var stderr bytes.Buffer
	err := Run(context.Background(), Env{Args: []string{"serve", "-h"}, Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatalf("serve -h: %v", err)
	}
	for _, want := range []string{"-data-dir", "ACTIONGATE_MASTER_KEY", "ACTIONGATE_ADMIN_TOKEN", "ACTIONGATE_METRICS_TOKEN"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("usage lacks %s:\n%s", want, stderr.String())
		}
	}
}

// TestOneServerPerSQLiteFolder: a second server on the same data folder is
// refused with a message that says why and what to do instead.
func TestOneServerPerSQLiteFolder(t *testing.T) {
	dir := t.TempDir()
	g := start(t, dir, nil)
	err := Run(context.Background(), Env{Args: []string{"serve"}, Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string {
		return map[string]string{"ACTIONGATE_DATA_DIR": dir, "ACTIONGATE_ADDR": "127.0.0.1:0", "ACTIONGATE_ADMIN_TOKEN": testToken}[k]
	}})
	if err == nil || !strings.Contains(err.Error(), "another actiongate server") || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Fatalf("second server on one folder: %v", err)
	}
	// Maintenance commands still run beside the server.
	if err := Run(context.Background(), Env{Args: []string{"tokens", "list"}, Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string {
		return map[string]string{"ACTIONGATE_DATA_DIR": dir}[k]
	}}); err != nil {
		t.Fatalf("tokens list beside the server: %v", err)
	}
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	g = start(t, dir, nil) // the lock went with the first server
	_ = g.stop()
}

func TestCredentialCacheFollowsTheStore(t *testing.T) {
	parse := func(m map[string]string) *config.Config {
		c, err := config.Parse(nil, func(k string) string { return m[k] })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	pg := "postgres://u@127.0.0.1/db"
	for _, tc := range []struct {
		env  map[string]string
		want time.Duration
	}{
		{map[string]string{}, 5 * time.Second}, // SQLite: on
		{map[string]string{"ACTIONGATE_DATABASE_URL": pg}, 0},
		{map[string]string{"ACTIONGATE_DATABASE_URL": pg, "ACTIONGATE_CREDENTIAL_CACHE_TTL": "2s"}, 2 * time.Second},
		{map[string]string{"ACTIONGATE_CREDENTIAL_CACHE_TTL": "0"}, 0},
	} {
		if got := credentialCacheTTL(parse(tc.env)); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.env, got, tc.want)
		}
	}
}
