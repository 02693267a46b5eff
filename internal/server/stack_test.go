package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/apitoken"
	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/logging"
	"github.com/actiongate/actiongate/internal/metrics"
	"github.com/actiongate/actiongate/internal/netguard"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/server"
	"github.com/actiongate/actiongate/internal/store/sqlite"
)

const adminToken = "stack-admin-token-0123456789"

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

// recorder keeps every body the gateway received from upstreams and providers,
// so tests can scan for the tokens it was given.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	// Upgraded connections and event streams pass as they are: reading them
	// whole would hold them up (no token response is either).
	if resp.StatusCode == http.StatusSwitchingProtocols || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp, nil
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.mu.Lock()
	r.seen = append(r.seen, b)
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// stack is a gateway with its HTTP server, a SQLite file, a fake clock and
// captured logs.
type stack struct {
	t         *testing.T
	dir       string
	gw        *gateway.Gateway
	srv       *httptest.Server
	clock     *clock
	logs      *syncBuffer
	rec       *recorder
	metrics   *metrics.Metrics
	mu        sync.Mutex
	responses bytes.Buffer
}

func newStack(t *testing.T) *stack { return newStackWith(t, stackConfig{}).stack }

// stackConfig tunes newStackWith beyond what newStack offers.
type stackConfig struct {
	upstreamTimeout time.Duration
	bodyTimeout     time.Duration
	locker          gateway.Locker
	// dir and keys reuse a data folder and choose the master keys, to restart
	// a gateway on the same database (key rotation). Defaults: a new folder,
	// one new key.
	dir  string
	keys *secrets.Keyring
}

// tstack is a stack with its database, its keys and a hook in the gateway's
// transport (below the recorder, so the recorder still sees every answer).
type tstack struct {
	*stack
	db   *sqlite.Store
	keys *secrets.Keyring
	hook *hookTransport
}

// newStackWith builds a stack with cfg applied and a transport hook installed
// before the server starts. API tokens are checked against the database, with
// adminToken as the bootstrap token.
func newStackWith(t *testing.T, cfg stackConfig) *tstack {
	t.Helper()
	dir := cfg.dir
	if dir == "" {
		dir = t.TempDir()
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "actiongate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys := cfg.keys
	if keys == nil {
		key, err := secrets.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		keys = secrets.NewKeyring(key)
	}
	s := &stack{t: t, dir: dir, clock: &clock{now: time.Now()}, logs: &syncBuffer{}}
	client := netguard.NewClient(netguard.Policy{AllowPrivate: true})
	hook := &hookTransport{next: client.Transport}
	s.rec = &recorder{next: hook}
	client.Transport = s.rec
	log := logging.New(s.logs, "json", "debug")
	s.metrics = metrics.New()
	s.srv = httptest.NewUnstartedServer(nil)
	s.gw = gateway.New(gateway.Options{
		Store:           db,
		Keys:            keys,
		PublicURL:       "http://" + s.srv.Listener.Addr().String(),
		AllowPrivate:    true,
		Logger:          log,
		Now:             s.clock.Now,
		HTTPClient:      client,
		UpstreamTimeout: cfg.upstreamTimeout,
		Locker:          cfg.locker,
		// On, as in the default (SQLite) deployment: every test of the
		// credential lifecycle runs through it.
		CredentialCacheTTL: gateway.DefaultCacheTTL,
		Metrics:            s.metrics,
	})
	s.srv.Config.Handler = server.New(server.Options{Gateway: s.gw, DB: db,
		Tokens: apitoken.New(db, hashOf(adminToken), s.clock.Now), Logger: log, BodyTimeout: cfg.bodyTimeout})
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return &tstack{stack: s, db: db, keys: keys, hook: hook}
}

// hookTransport lets a test intercept the gateway's outgoing requests.
type hookTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	fn   func(req *http.Request, next http.RoundTripper) (*http.Response, error)
}

func (h *hookTransport) set(fn func(req *http.Request, next http.RoundTripper) (*http.Response, error)) {
	h.mu.Lock()
	h.fn = fn
	h.mu.Unlock()
}

func (h *hookTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	fn := h.fn
	h.mu.Unlock()
	if fn == nil {
		return h.next.RoundTrip(req)
	}
	return fn(req, h.next)
}

// callbackURL is the gateway's OAuth redirect URI.
func (s *stack) callbackURL() string { return s.srv.URL + "/oauth/callback" }

// api sends an authenticated JSON request and decodes the answer.
func (s *stack) api(method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	s.mu.Lock()
	s.responses.Write(raw)
	s.mu.Unlock()
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			s.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

// browser is an end user's browser: a cookie jar, redirects not followed.
type browser struct {
	t *testing.T
	c *http.Client
	s *stack
}

func (s *stack) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: s.t, s: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// get fetches u and returns status, Location and body.
func (b *browser) get(u string) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b.s.mu.Lock()
	b.s.responses.Write(body)
	b.s.mu.Unlock()
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// scan fails the test if any needle appears in the data folder's raw bytes
// (database, WAL, everything), the logs or the responses.
func (s *stack) scan(needles ...string) {
	s.t.Helper()
	var hay []struct {
		name string
		b    []byte
	}
	_ = filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			s.t.Fatal(err)
		}
		hay = append(hay, struct {
			name string
			b    []byte
		}{p, b})
		return nil
	})
	s.mu.Lock()
	hay = append(hay, struct {
		name string
		b    []byte
	}{"responses", s.responses.Bytes()}, struct {
		name string
		b    []byte
	}{"logs", []byte(s.logs.String())})
	s.mu.Unlock()
	if len(s.logs.String()) == 0 {
		s.t.Fatal("no logs captured: the scan would prove nothing")
	}
	for _, n := range needles {
		if len(n) < 8 {
			s.t.Fatalf("needle %q too short to scan for", n)
		}
		for _, h := range hay {
			if bytes.Contains(h.b, []byte(n)) {
				s.t.Errorf("%s contains a secret (%s…)", h.name, n[:4])
			}
		}
	}
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func errField(body map[string]any, f string) string {
	e, _ := body["error"].(map[string]any)
	v, _ := e[f].(string)
	return v
}

func mustContain(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}
