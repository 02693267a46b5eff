package server_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// proxyAction registers an api_key action (bearer) on srv and returns its id.
func proxyAction(t *testing.T, s *stack, srvURL string) string {
	t.Helper()
	st, a := s.api("POST", "/v1/actions", map[string]any{"name": "p", "schema": simpleSpec(srvURL),
		"auth": map[string]any{"type": "api_key", "api_key": "fwd-key-LEAKCHECK", "auth_type": "bearer"}})
	if st != 201 {
		t.Fatalf("create: %d %v", st, a)
	}
	return a["id"].(string)
}

func proxyReq(t *testing.T, s *stack, method, url string, body io.Reader, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestProxyHopByHopAndForwardedHeaders(t *testing.T) {
	s := newStack(t)
	var got http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Header().Set("Connection", "X-Drop-Me")
		w.Header().Set("X-Drop-Me", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Keep", "yes")
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	id := proxyAction(t, s, up.URL)
	resp := proxyReq(t, s, "GET", s.srv.URL+"/v1/proxy/"+id+"/items", nil, map[string]string{
		"Connection": "X-Secret-Hop", "X-Secret-Hop": "v", "X-Forwarded-For": "6.6.6.6", "Forwarded": "for=6.6.6.6",
		"Proxy-Authorization": "Basic eA==", "Te": "trailers", "X-Normal": "n"})
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for _, h := range []string{"X-Secret-Hop", "X-Forwarded-For", "Forwarded", "Proxy-Authorization", "X-Actiongate-User"} {
		if got.Get(h) != "" {
			t.Errorf("upstream received %s: %q", h, got.Get(h))
		}
	}
	if got.Get("X-Normal") != "n" || got.Get("Te") != "trailers" || got.Get("Authorization") != "Bearer fwd-key-LEAKCHECK" {
		t.Errorf("upstream headers: %v", got)
	}
	if resp.Header.Get("X-Drop-Me") != "" || resp.Header.Get("Keep-Alive") != "" || resp.Header.Get("X-Keep") != "yes" {
		t.Errorf("answer headers: %v", resp.Header)
	}
}

func TestProxyStreamsTrailersAndEventStreams(t *testing.T) {
	s := newStack(t)
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/base/events":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			<-release
			io.WriteString(w, "data: two\n\n")
		case "/base/trailer":
			w.Header().Set("Trailer", "X-Checksum")
			io.WriteString(w, "body")
			w.Header().Set("X-Checksum", "abc")
		}
	}))
	defer up.Close()
	id := proxyAction(t, s, up.URL)

	resp := proxyReq(t, s, "GET", s.srv.URL+"/v1/proxy/"+id+"/events", nil, nil)
	br := bufio.NewReader(resp.Body)
	first := make(chan string, 1)
	go func() { l, _ := br.ReadString('\n'); first <- l }()
	select {
	case l := <-first:
		if l != "data: one\n" {
			t.Fatalf("first event: %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event was held back: the proxy does not stream")
	}
	close(release)
	rest, _ := io.ReadAll(br)
	resp.Body.Close()
	if !strings.Contains(string(rest), "data: two") {
		t.Fatalf("rest: %q", rest)
	}

	resp = proxyReq(t, s, "GET", s.srv.URL+"/v1/proxy/"+id+"/trailer", nil, nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "body" || resp.Trailer.Get("X-Checksum") != "abc" {
		t.Fatalf("trailer: %q %v", b, resp.Trailer)
	}
}

func TestProxyUpstreamFailures(t *testing.T) {
	s := newStack(t)
	// Nothing listens there.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	id := proxyAction(t, s, dead)
	resp := proxyReq(t, s, "GET", s.srv.URL+"/v1/proxy/"+id+"/items", nil, nil)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if resp.StatusCode != 502 || json.Unmarshal(raw, &e) != nil || e.Error.Code != "upstream_unreachable" {
		t.Fatalf("dead upstream: %d %s (want one 502 upstream_unreachable body)", resp.StatusCode, raw)
	}

	// The API dies half way through its answer: the caller sees it cut short.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		c, _, _ := http.NewResponseController(w).Hijack()
		c.Close()
	}))
	defer up.Close()
	id = proxyAction(t, s, up.URL)
	resp = proxyReq(t, s, "GET", s.srv.URL+"/v1/proxy/"+id+"/items", nil, nil)
	_, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatal("a cut-off answer was passed on as complete")
	}
	s.scan("LEAKCHECK")
}

func TestProxyUpgradeGoesThrough(t *testing.T) {
	s := newStack(t)
	var auth string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "no", 400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo: " + line)
		brw.Flush()
	}))
	defer up.Close()
	id := proxyAction(t, s, up.URL)
	c, err := net.Dial("tcp", strings.TrimPrefix(s.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /v1/proxy/"+id+"/ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+adminToken+
		"\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", err, resp)
	}
	io.WriteString(c, "hello\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := br.ReadString('\n')
	if line != "echo: hello\n" || auth != "Bearer fwd-key-LEAKCHECK" {
		t.Fatalf("upgraded: %q, upstream saw Authorization %q", line, auth)
	}
}

// TestLargeIntegersStayExact: integer arguments beyond 2^53 reach the API
// with all their digits, in the path and in the body, through invoke and
// tools/call (decoded as float64 they were rounded: another record).
func TestLargeIntegersStayExact(t *testing.T) {
	s := newStack(t)
	var got []string
	var mu sync.Mutex
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.URL.Path+" "+string(b))
		mu.Unlock()
	}))
	defer up.Close()
	spec := `openapi: 3.0.3
info: {title: Big, version: "1"}
servers: [{url: "` + up.URL + `"}]
paths:
  /messages/{id}:
    post:
      operationId: moveMessage
      x-openai-isConsequential: false
      parameters: [{name: id, in: path, required: true, schema: {type: integer, format: int64}}]
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {account: {type: integer, format: int64}}}
      responses: {"200": {description: ok}}
`
	_, a := s.api("POST", "/v1/actions", map[string]any{"name": "big", "schema": spec})
	id := a["id"].(string)
	body := `{"operation": "moveMessage", "arguments": {"id": 1234567890123456789, "account": 9007199254740993}}`
	if st, res := s.call(adminToken, "POST", "/v1/actions/"+id+"/invoke", body); st != 200 {
		t.Fatalf("invoke: %d %s", st, res)
	}
	if st, res := s.call(adminToken, "POST", "/v1/tools/call", `{"name": "big_moveMessage", "arguments": {"id": 1234567890123456789, "account": 9007199254740993}}`); st != 200 {
		t.Fatalf("tools/call: %d %s", st, res)
	}
	want := `/messages/1234567890123456789 {"account":9007199254740993}`
	if len(got) != 2 || got[0] != want || got[1] != want {
		t.Fatalf("the API got %q, want %q twice", got, want)
	}
}
