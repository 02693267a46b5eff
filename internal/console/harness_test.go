package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/apitoken"
	"github.com/actiongate/actiongate/internal/console"
	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/logging"
	"github.com/actiongate/actiongate/internal/netguard"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/server"
	"github.com/actiongate/actiongate/internal/store/sqlite"
)

const adminToken = "console-admin-token-0123456789"

// clock is a fake clock the tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// harness is a gateway with its whole HTTP server (the API, the sign-in
// endpoints and the console), a SQLite file, a token store and captured
// logs. Everything the console answered is kept, to scan for secrets.
type harness struct {
	t      *testing.T
	srv    *httptest.Server
	gw     *gateway.Gateway
	tokens *apitoken.Service
	clock  *clock
	logs   *syncBuffer

	mu     sync.Mutex
	seen   bytes.Buffer // every console response body
	issued []string     // every access and refresh token a provider issued
}

// recorder keeps the tokens providers hand the gateway, to scan for them.
type recorder struct {
	next http.RoundTripper
	h    *harness
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	var m map[string]any
	if json.Unmarshal(b, &m) == nil {
		r.h.mu.Lock()
		for _, k := range []string{"access_token", "refresh_token"} {
			if v, ok := m[k].(string); ok && v != "" {
				r.h.issued = append(r.h.issued, v)
			}
		}
		r.h.mu.Unlock()
	}
	return resp, nil
}

// issuedTokens returns the tokens providers issued so far.
func (h *harness) issuedTokens() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.issued...)
}

type harnessOptions struct {
	// direct mounts console.New with the fake clock in front of the server
	// (for expiry tests); otherwise server.New mounts it, as in production.
	direct    bool
	publicURL string
}

func newHarness(t *testing.T, opts ...harnessOptions) *harness {
	t.Helper()
	var o harnessOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "actiongate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clock: &clock{now: time.Now()}, logs: &syncBuffer{}}
	log := logging.New(h.logs, "json", "debug")
	h.srv = httptest.NewUnstartedServer(nil)
	public := o.publicURL
	if public == "" {
		public = "http://" + h.srv.Listener.Addr().String()
	}
	hc := netguard.NewClient(netguard.Policy{AllowPrivate: true})
	hc.Transport = &recorder{next: hc.Transport, h: h}
	h.gw = gateway.New(gateway.Options{
		Store: db, Keys: secrets.NewKeyring(key), PublicURL: public, AllowPrivate: true, Logger: log, HTTPClient: hc,
	})
	h.tokens = apitoken.New(db, apitoken.Hash(adminToken), h.clock.Now)
	var handler http.Handler = server.New(server.Options{Gateway: h.gw, DB: db, Tokens: h.tokens, Logger: log})
	if o.direct {
		mux := http.NewServeMux()
		mux.Handle(console.Prefix, console.New(console.Options{Gateway: h.gw, Tokens: h.tokens, Logger: log, Now: h.clock.Now}))
		mux.Handle("/", handler)
		handler = mux
	}
	h.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, console.Prefix) {
			handler.ServeHTTP(w, r)
			return
		}
		rec := &teeWriter{ResponseWriter: w, h: h}
		handler.ServeHTTP(rec, r)
	})
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h
}

// teeWriter copies console responses into harness.seen.
type teeWriter struct {
	http.ResponseWriter
	h *harness
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.h.mu.Lock()
	w.h.seen.Write(b)
	w.h.mu.Unlock()
	return w.ResponseWriter.Write(b)
}

// neverShown fails the test if a secret appears in any console response or
// log line.
func (h *harness) neverShown(secrets ...string) {
	h.t.Helper()
	h.mu.Lock()
	seen := h.seen.String()
	h.mu.Unlock()
	if seen == "" {
		h.t.Fatal("no console responses captured: the check would prove nothing")
	}
	for _, s := range secrets {
		if strings.Contains(seen, s) {
			h.t.Errorf("a console response contains the secret %s…", s[:4])
		}
		if strings.Contains(h.logs.String(), s) {
			h.t.Errorf("the log contains the secret %s…", s[:4])
		}
	}
}

// api calls the JSON API with the admin token.
func (h *harness) api(method, path string, body any) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			h.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

// client is a browser without JavaScript: a cookie jar, redirects not
// followed, forms posted by hand.
type client struct {
	t    *testing.T
	h    *harness
	c    *http.Client
	csrf string
}

func (h *harness) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: h.t, h: h, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status   int
	location string
	body     string
	header   http.Header
}

var (
	csrfMeta   = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)
	csrfHidden = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

func (c *client) do(req *http.Request) page {
	c.t.Helper()
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b), header: resp.Header}
	if m := csrfMeta.FindStringSubmatch(p.body); m != nil {
		c.csrf = m[1]
	}
	return p
}

func (c *client) get(path string) page {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.h.srv.URL+path, nil)
	return c.do(req)
}

// post sends a urlencoded form with the session's CSRF token (unless the
// form sets "csrf" itself).
func (c *client) post(path string, form url.Values) page {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", c.csrf)
	}
	req, _ := http.NewRequest("POST", c.h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// postMultipart sends a multipart form with one file field.
func (c *client) postMultipart(path string, form url.Values, fileField, fileName, content string) page {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	form.Set("csrf", c.csrf)
	for k, vs := range form {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile(fileField, fileName)
	_, _ = io.WriteString(fw, content)
	mw.Close()
	req, _ := http.NewRequest("POST", c.h.srv.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// login signs in with a token through the form.
func (c *client) login(token string) page {
	c.t.Helper()
	p := c.get("/ui/login")
	m := csrfHidden.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil {
		c.t.Fatalf("login page: %d %s", p.status, p.body)
	}
	return c.post("/ui/login", url.Values{"csrf": {m[1]}, "token": {token}})
}

// signIn signs in with the admin token and fetches a page for the CSRF token.
func (c *client) signIn() {
	c.t.Helper()
	if p := c.login(adminToken); p.status != http.StatusSeeOther {
		c.t.Fatalf("sign-in: %d %s", p.status, p.body)
	}
	if p := c.get("/ui/actions"); p.status != 200 || c.csrf == "" {
		c.t.Fatalf("actions: %d", p.status)
	}
}

func mustContain(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("page does not contain %q:\n%s", sub, clip(s))
	}
}

func mustNotContain(t *testing.T, s, sub string) {
	t.Helper()
	if strings.Contains(s, sub) {
		t.Fatalf("page contains %q:\n%s", sub, clip(s))
	}
}

func clip(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "…"
	}
	return s
}

// upstream is a fake API that records what it received.
type upstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path, query string
	header              http.Header
	body                string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(b)})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id": 7, "created": true}`))
			return
		}
		_, _ = w.Write([]byte(`{"items": [{"id": 1, "name": "bolt"}]}`))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) last(t *testing.T) recorded {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("the upstream received no request")
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// inventorySpec is an API with a read and a consequential write.
func inventorySpec(server string) string {
	servers := ""
	if server != "" {
		servers = `servers: [{url: "` + server + `"}]`
	}
	return `openapi: 3.0.3
info: {title: Inventory, version: "1"}
` + servers + `
paths:
  /items:
    get:
      operationId: listItems
      summary: List items
      parameters:
        - {name: limit, in: query, schema: {type: integer, maximum: 100}, description: How many}
        - {name: kind, in: query, schema: {type: string, enum: [bolt, nut]}}
      responses: {"200": {description: ok}}
    post:
      operationId: createItem
      summary: Create an item
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties:
                name: {type: string}
                qty: {type: integer}
                tags: {type: array, items: {type: string}}
      responses: {"201": {description: created}}
`
}
