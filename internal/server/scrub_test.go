package server_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestEchoedCredentialsAreRedacted: an API that echoes what it was sent (a
// debugging endpoint, a redirect that repeats the query string) must not hand
// the action's credential to the model or the proxy's caller.
func TestEchoedCredentialsAreRedacted(t *testing.T) {
	s := newStack(t)
	const key = "echo-key/with+chars LEAKCHECK"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.URL.Query().Get("api_key")
		w.Header().Set("Location", "https://elsewhere.example/next?"+r.URL.RawQuery)
		w.Header().Set("X-Echo", got)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"you_sent": got, "raw_query": r.URL.RawQuery, "ok": true})
	}))
	defer up.Close()
	spec := `openapi: 3.0.3
info: {title: Echo, version: "1"}
servers: [{url: "` + up.URL + `"}]
components:
  securitySchemes:
    k: {type: apiKey, in: query, name: api_key}
security: [{k: []}]
paths:
  /echo:
    get:
      operationId: echo
      responses: {"200": {description: ok}}
`
	st, a := s.api("POST", "/v1/actions", map[string]any{"name": "echo", "schema": spec,
		"auth": map[string]any{"type": "api_key", "api_key": key}})
	if st != 201 {
		t.Fatalf("create: %d %v", st, a)
	}
	id := a["id"].(string)

	st, res := s.api("POST", "/v1/actions/"+id+"/invoke", map[string]any{"operation": "echo"})
	if st != 200 {
		t.Fatalf("invoke: %d %v", st, res)
	}
	raw, _ := json.Marshal(res)
	for _, form := range []string{key, url.QueryEscape(key), "LEAKCHECK"} {
		if strings.Contains(string(raw), form) {
			t.Fatalf("invoke result holds the key (%q): %s", form, raw)
		}
	}
	body, _ := res["body"].(map[string]any)
	if body["you_sent"] != "[redacted]" || body["ok"] != true {
		t.Fatalf("body: %v (want the echoed key redacted, the rest intact)", res["body"])
	}

	req, _ := http.NewRequest("GET", s.srv.URL+"/v1/proxy/"+id+"/echo?x=1", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pbody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(pbody), "LEAKCHECK") || !strings.Contains(string(pbody), `"ok":true`) {
		t.Fatalf("proxy body: %s", pbody)
	}
	if loc := resp.Header.Get("Location"); strings.Contains(loc, "LEAKCHECK") || !strings.Contains(loc, "x=1") {
		t.Fatalf("proxy Location: %q", loc)
	}
	if strings.Contains(resp.Header.Get("X-Echo"), "LEAKCHECK") {
		t.Fatalf("proxy X-Echo: %q", resp.Header.Get("X-Echo"))
	}
	s.scan("LEAKCHECK")
}

// TestProxyUpstreamTimeout: an API that never starts answering is cut off at
// the upstream timeout with upstream_timeout, as in invoke.
func TestProxyUpstreamTimeout(t *testing.T) {
	s := newStackWith(t, stackConfig{upstreamTimeout: 200 * time.Millisecond})
	stuck := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	defer close(stuck)
	id := proxyAction(t, s.stack, up.URL)
	resp := proxyReq(t, s.stack, "GET", s.srv.URL+"/v1/proxy/"+id+"/items", nil, nil)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 504 || !strings.Contains(string(raw), "upstream_timeout") {
		t.Fatalf("stuck upstream: %d %s", resp.StatusCode, raw)
	}
}

// TestRefusalsAreLoggedWithTheirCode: the error code of a refused request is
// logged readably (a key named "code" is redacted as an OAuth code would be).
func TestRefusalsAreLoggedWithTheirCode(t *testing.T) {
	s := newStack(t)
	ln := httptest.NewServer(http.NotFoundHandler())
	dead := ln.URL
	ln.Close()
	id := proxyAction(t, s, dead)
	if st, res := s.api("POST", "/v1/actions/"+id+"/invoke", map[string]any{"operation": "listItems"}); st != 502 {
		t.Fatalf("dead upstream: %d %v", st, res)
	}
	if !strings.Contains(s.logs.String(), `"error_code":"upstream_unreachable"`) {
		t.Fatalf("logs lack the error code: %s", s.logs.String())
	}
}

// TestUserIDsAreChecked: an end user id that could not be shown, logged or
// stored faithfully is refused, naming the field, on every route that takes one.
func TestUserIDsAreChecked(t *testing.T) {
	s := newStack(t)
	up := httptest.NewServer(http.NotFoundHandler())
	defer up.Close()
	id := proxyAction(t, s, up.URL)
	for _, bad := range []string{strings.Repeat("u", 257), "bad\xffutf8", "line\nbreak", "nul\x00"} {
		for _, call := range []struct {
			method, path string
			body         map[string]any
		}{
			{"POST", "/v1/actions/" + id + "/invoke", map[string]any{"operation": "listItems", "user": bad}},
			{"POST", "/v1/connect", map[string]any{"action": id, "user": bad}},
			{"POST", "/v1/tools/call", map[string]any{"name": "x", "user": bad}},
			{"POST", "/v1/tokens", map[string]any{"name": "t", "scopes": []string{"invoke"}, "user": bad}},
			{"GET", "/v1/connections?user=" + url.QueryEscape(bad), nil},
		} {
			if call.body != nil && !utf8.ValidString(bad) {
				continue // JSON carries no invalid UTF-8 (decoders replace it)
			}
			st, res := s.api(call.method, call.path, call.body)
			if st != 400 || errCode(res) != "invalid_request" || !strings.HasPrefix(errField(res, "message"), "user:") {
				t.Errorf("%s %s with user %q: %d %v", call.method, call.path, bad, st, res)
			}
		}
		req, _ := http.NewRequest("GET", s.srv.URL+"/v1/proxy/"+id+"/items", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header[http.CanonicalHeaderKey("X-Actiongate-User")] = []string{bad}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			if resp.StatusCode != 400 {
				t.Errorf("proxy with user %q: %d", bad, resp.StatusCode)
			}
			resp.Body.Close()
		} // a header Go's client refuses to send is not a test case
	}
	// Invalid UTF-8 and lone surrogates inside JSON: decoders make them U+FFFD,
	// which would make distinct ids one.
	for _, raw := range []string{"\"u\xffx\"", `"u\udc00x"`, `"u\ufffdx"`} {
		st, body := s.call(adminToken, "POST", "/v1/actions/"+id+"/invoke", `{"operation": "listItems", "user": `+raw+`}`)
		if st != 400 || !strings.Contains(body, `"message":"user: contains U+FFFD`) {
			t.Errorf("JSON user %q: %d %s", raw, st, body)
		}
	}
	if st, res := s.api("POST", "/v1/actions/"+id+"/invoke", map[string]any{"operation": "listItems", "user": "ok user ü"}); st != 200 {
		t.Fatalf("a good user id: %d %v", st, res)
	}
}

// TestSlowBodyIsCutOff: a client that announces a body and trickles it is cut
// off at the body timeout; one that streams an answer for longer is not.
func TestSlowBodyIsCutOff(t *testing.T) {
	s := newStackWith(t, stackConfig{bodyTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", strings.TrimPrefix(s.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /v1/actions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+adminToken+
		"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\":")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("stalled body: %d", resp.StatusCode)
	}

	// A streamed answer outlives the body timeout once the body is in.
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: two\n\n")
	}))
	defer up.Close()
	id := proxyAction(t, s.stack, up.URL)
	go func() { time.Sleep(time.Second); close(release) }() // past the body timeout
	resp = proxyReq(t, s.stack, "POST", s.srv.URL+"/v1/proxy/"+id+"/items", strings.NewReader(`{"a":1}`), nil)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !strings.Contains(string(b), "data: two") {
		t.Fatalf("streamed answer after the body timeout: %q %v", b, err)
	}
}

// TestProxyRefusesUserBoundTokens: the proxy reaches any path of the API with
// the action's credentials, so a token handed to one end user cannot use it.
func TestProxyRefusesUserBoundTokens(t *testing.T) {
	s := newStack(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	id := proxyAction(t, s, up.URL)
	st, tok := s.api("POST", "/v1/tokens", map[string]any{"name": "alice", "scopes": []string{"invoke"}, "user": "alice"})
	if st != 201 {
		t.Fatalf("token: %d %v", st, tok)
	}
	req, _ := http.NewRequest("GET", s.srv.URL+"/v1/proxy/"+id+"/items", nil)
	req.Header.Set("Authorization", "Bearer "+tok["token"].(string))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(raw), `"forbidden"`) || !strings.Contains(string(raw), "platform backends") {
		t.Fatalf("user-bound token on the proxy: %d %s", resp.StatusCode, raw)
	}
	// The same token still invokes.
	req, _ = http.NewRequest("POST", s.srv.URL+"/v1/actions/"+id+"/invoke", strings.NewReader(`{"operation":"listItems"}`))
	req.Header.Set("Authorization", "Bearer "+tok["token"].(string))
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("invoke with the user-bound token: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
}

// TestSlowBodyIsCutOffEverywhere: the body deadline holds on the routes that
// need no API token too (the console's login, the OAuth callback) and on MCP.
func TestSlowBodyIsCutOffEverywhere(t *testing.T) {
	s := newStackWith(t, stackConfig{bodyTimeout: 300 * time.Millisecond})
	for _, path := range []string{"/ui/login", "/oauth/callback", "/mcp"} {
		c, err := net.Dial("tcp", strings.TrimPrefix(s.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+adminToken+
			"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\na=")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		// Answered or closed within the deadline, rather than held open.
		_, err = http.ReadResponse(bufio.NewReader(c), nil)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s: still open after 10 s with a stalled body", path)
		}
		c.Close()
	}
}

// TestProxySlowCallerBody: a caller that stalls its body past the deadline is
// told its body could not be read (400), not that the API timed out.
func TestProxySlowCallerBody(t *testing.T) {
	s := newStackWith(t, stackConfig{bodyTimeout: 300 * time.Millisecond})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			panic(http.ErrAbortHandler) // no answer to a body cut short
		}
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	id := proxyAction(t, s.stack, up.URL)
	c, err := net.Dial("tcp", strings.TrimPrefix(s.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /v1/proxy/"+id+"/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+adminToken+
		"\r\nContent-Length: 1000\r\n\r\n{")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(raw), "request body") {
		t.Fatalf("stalled proxy body: %d %s", resp.StatusCode, raw)
	}
}
