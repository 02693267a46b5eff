package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/actiongate/actiongate/internal/oauth/oauthtest"
	"github.com/actiongate/actiongate/internal/server"
)

func simpleSpec(server string) string {
	return `openapi: 3.0.3
info: {title: S, version: "1"}
servers: [{url: "` + server + `/base"}]
paths:
  /items:
    get:
      operationId: listItems
      responses: {"200": {description: ok}}
  /big:
    get:
      operationId: big
      responses: {"200": {description: ok}}
  /hop:
    get:
      operationId: hop
      responses: {"302": {description: moved}}
`
}

func TestProxyForwardsWithCredentials(t *testing.T) {
	s := newStack(t)
	var got *http.Request
	var body string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(201)
		fmt.Fprint(w, "created")
	}))
	defer up.Close()
	_, a := s.api("POST", "/v1/actions", map[string]any{"name": "p", "schema": simpleSpec(up.URL),
		"auth": map[string]any{"type": "api_key", "api_key": "proxy-key-LEAKCHECK", "auth_type": "custom", "custom_header": "X-Api-Key"}})
	id := a["id"].(string)

	req, _ := http.NewRequest("POST", s.srv.URL+"/v1/proxy/"+id+"/items/7?x=1&y=2", strings.NewReader(`{"a":1}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("X-Actiongate-User", "u-1")
	req.Header.Set("X-Api-Key", "caller-tried-this")
	req.Header.Set("X-Custom", "kept")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(rb) != "created" || resp.Header.Get("X-Upstream") != "yes" {
		t.Fatalf("answer: %d %q %v", resp.StatusCode, rb, resp.Header)
	}
	if got.URL.Path != "/base/items/7" || got.URL.RawQuery != "x=1&y=2" || body != `{"a":1}` || got.Method != "POST" {
		t.Fatalf("forwarded %s %s?%s %q", got.Method, got.URL.Path, got.URL.RawQuery, body)
	}
	if got.Header.Get("X-Api-Key") != "proxy-key-LEAKCHECK" || got.Header.Get("Authorization") != "" ||
		got.Header.Get("X-Actiongate-User") != "" || got.Header.Get("X-Custom") != "kept" {
		t.Fatalf("headers: %v", got.Header)
	}

	// Errors keep the contract's shape.
	for path, want := range map[string]int{"/v1/proxy/act_nope/x": 404, "/v1/proxy/" + id + "/a/%2e%2e/b": 400} {
		req, _ = http.NewRequest("GET", s.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	s.scan("LEAKCHECK")
}

func TestProxyOAuthNeedsSignInThenSendsToken(t *testing.T) {
	s := newStack(t)
	as, id := oauthSetup(t, s, true, "post", oauthtest.Options{})
	as.SetUser("carol")
	do := func() (int, string) {
		req, _ := http.NewRequest("GET", s.srv.URL+"/v1/proxy/"+id+"/me", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("X-Actiongate-User", "carol")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st, body := do()
	if st != 403 || !strings.Contains(body, "sign_in_required") || !strings.Contains(body, "sign_in_url") {
		t.Fatalf("before sign-in: %d %s", st, body)
	}
	_, res := s.api("POST", "/v1/connect", map[string]any{"user": "carol", "action": id})
	if st, page := signIn(t, s, as, s.browser(), res["sign_in_url"].(string)); st != 200 {
		t.Fatalf("sign-in: %d %s", st, page)
	}
	if st, body = do(); st != 200 || !strings.Contains(body, `"sub":"carol"`) {
		t.Fatalf("after sign-in: %d %s", st, body)
	}
}

func TestOversizedResponseAndCrossHostRedirect(t *testing.T) {
	s := newStack(t)
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		if r.Header.Get("Authorization") != "" {
			t.Errorf("credential reached another host: %q", r.Header.Get("Authorization"))
		}
	}))
	defer other.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/base/big":
			w.Header().Set("Content-Type", "text/plain")
			chunk := strings.Repeat("x", 1<<20)
			for i := 0; i < 12; i++ { // 12 MiB, over the 10 MiB cap
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
		case "/base/hop":
			http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
		}
	}))
	defer up.Close()
	_, a := s.api("POST", "/v1/actions", map[string]any{"name": "big", "schema": simpleSpec(up.URL),
		"auth": map[string]any{"type": "api_key", "api_key": "redirect-key-LEAKCHECK", "auth_type": "bearer"}})
	id := a["id"].(string)

	st, res := s.api("POST", "/v1/actions/"+id+"/invoke", map[string]any{"operation": "big"})
	if st != 502 || errCode(res) != "upstream_response_too_large" {
		t.Fatalf("big: %d %v", st, res)
	}
	mustContain(t, errField(res, "message"), "limit")

	st, res = s.api("POST", "/v1/actions/"+id+"/invoke", map[string]any{"operation": "hop"})
	if st != 200 || res["status"] != float64(302) {
		t.Fatalf("redirect: %d %v", st, res)
	}
	if otherHits.Load() != 0 {
		t.Fatal("the gateway followed a redirect to another host")
	}
}

func TestRateLimitAnswers429(t *testing.T) {
	s := newStack(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	// A second handler on the same gateway, with tight limits.
	h := server.New(server.Options{Gateway: s.gw, DB: nil, AdminTokenHash: hashOf(adminToken), UserRate: 1, TokenRate: 1000})
	srv := httptest.NewServer(h)
	defer srv.Close()
	_, a := s.api("POST", "/v1/actions", map[string]any{"name": "r", "schema": simpleSpec(up.URL), "auth": map[string]any{"type": "none"}})
	id := a["id"].(string)
	call := func(user string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/actions/"+id+"/invoke",
			strings.NewReader(`{"user":"`+user+`","operation":"listItems"}`))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	var limited *http.Response
	for i := 0; i < 5 && limited == nil; i++ { // burst is 2
		if r := call("greedy"); r.StatusCode == 429 {
			limited = r
		}
	}
	if limited == nil {
		t.Fatal("no 429 after 5 quick calls at 1/s")
	}
	if limited.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	if r := call("someone-else"); r.StatusCode != 200 {
		t.Fatalf("another user was limited too: %d", r.StatusCode)
	}
}

// TestProxyPathEscaping: the proxy forwards the path escaped as the caller
// wrote it (an encoded slash stays one segment), and refuses every spelling
// of a step out of the action's base path.
func TestProxyPathEscaping(t *testing.T) {
	s := newStack(t)
	var got string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.EscapedPath()
	}))
	defer up.Close()
	_, a := s.api("POST", "/v1/actions", map[string]any{"name": "p", "schema": simpleSpec(up.URL)})
	id := a["id"].(string)
	tests := []struct {
		path string
		want string // the path the API saw, or "" for a 400
	}{
		{"items/7", "/base/items/7"},
		{"projects/group%2Fproject/issues", "/base/projects/group%2Fproject/issues"},
		{"a%20b/c%3Fd", "/base/a%20b/c%3Fd"},
		{"files/..%20x", "/base/files/..%20x"},
		{"files/...", ""},
		{"a//b", "/base/a//b"},
		{"group%2Fproject|x/files", "/base/group%2Fproject%7Cx/files"},
		{"a!b*(c)", "/base/a!b*(c)"},
		{"caf%C3%A9/%C3%A4", "/base/caf%C3%A9/%C3%A4"},
		{"a/..%00/x", ""},
		{"a/..%20/x", ""},
		{"items?id=5;6", ""},
		{"items?force=%zz", ""},
		{"a/../b", ""},
		{"a/./b", ""},
		{"a/%2e%2e/b", ""},
		{"a/%2E./b", ""},
		{"a/..;x=1/b", ""},
		{"a/%2e%2e%3b/b", ""},
		{"a/..%2Fsecret", ""},
		{"a/..%5Csecret", ""},
		{"a/x%2F..%2Fy", ""},
	}
	for _, tc := range tests {
		got = ""
		resp, b := s.raw("GET", "/v1/proxy/"+id+"/"+tc.path)
		if tc.want == "" {
			if resp.StatusCode != 400 || !strings.Contains(string(b), "invalid_request") || got != "" {
				t.Errorf("%s: %d %s (API saw %q), want 400", tc.path, resp.StatusCode, b, got)
			}
			continue
		}
		if resp.StatusCode != 200 || got != tc.want {
			t.Errorf("%s: %d, API saw %q, want %q", tc.path, resp.StatusCode, got, tc.want)
		}
	}
}

// raw sends a request with the admin token and its path exactly as written
// (not cleaned or re-escaped), following no redirect.
func (s *stack) raw(method, path string) (*http.Response, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.srv.URL, nil)
	req.URL.Opaque = "//" + req.URL.Host + path
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := noRedirects.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestUncleanPathsAndMethods: an API client gets a JSON error, not a bare
// redirect, for a path with an empty segment (an unset $ID), 405 with Allow
// for a method the endpoint does not take, and 400 for a query string that
// does not parse (rather than a filter silently dropped).
func TestUncleanPathsAndMethods(t *testing.T) {
	s := newStack(t)
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"POST", "/v1/actions//invoke", 404, "not_found", ""},
		{"GET", "/v1/actions/x/../y", 404, "not_found", ""},
		{"GET", "/v1/actions/act_x/invoke", 405, "method_not_allowed", "POST"},
		{"PATCH", "/v1/actions/act_x", 405, "method_not_allowed", "GET, PUT, DELETE"},
		{"DELETE", "/v1/tools", 405, "method_not_allowed", "GET"},
		{"GET", "/v1/nothing", 404, "not_found", ""},
		{"GET", "/v1", 404, "not_found", ""},
		{"GET", "/v1/proxy//x", 404, "not_found", ""},
		{"GET", "/v1/audit?user=%ZZ&limit=3", 400, "invalid_request", ""},
		{"GET", "/v1/tools?action=act_x%G1", 400, "invalid_request", ""},
		{"GET", "/v1/connections?%ZZ=1", 400, "invalid_request", ""},
	}
	for _, tc := range tests {
		resp, b := s.raw(tc.method, tc.path)
		if resp.StatusCode != tc.status || !strings.Contains(string(b), `"code":"`+tc.code+`"`) || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow=%q %s; want %d %s Allow=%q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), b, tc.status, tc.code, tc.allow)
		}
	}
}

// TestConnectionsOfOddUserIDs: a user id holding slashes or dots (valid as
// ids) can still be signed out through the API, escaped in the path.
func TestConnectionsOfOddUserIDs(t *testing.T) {
	s := newStack(t)
	as, id := oauthSetup(t, s, true, "post", oauthtest.Options{})
	for _, user := range []string{"a//b", "x/../y", "..", "."} {
		as.SetUser("sub-" + user)
		_, res := s.api("POST", "/v1/connect", map[string]any{"user": user, "action": id})
		if st, page := signIn(t, s, as, s.browser(), res["sign_in_url"].(string)); st != 200 {
			t.Fatalf("%q: sign-in %d %s", user, st, page)
		}
		resp, b := s.raw("DELETE", "/v1/connections/"+id+"/"+strings.ReplaceAll(url.PathEscape(user), ".", "%2E"))
		if resp.StatusCode != 204 {
			t.Errorf("%q: delete %d %s", user, resp.StatusCode, b)
		}
	}
}
