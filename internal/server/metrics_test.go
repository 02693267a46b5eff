package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/apitoken"
	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/metrics"
	"github.com/actiongate/actiongate/internal/netguard"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/server"
	"github.com/actiongate/actiongate/internal/store/sqlite"
)

// mstack is a gateway with metrics on, over a SQLite file that a second
// gateway (another "replica") can share.
type mstack struct {
	t     *testing.T
	url   string
	gw    *gateway.Gateway
	m     *metrics.Metrics
	clock *clock
}

func newMetricsStack(t *testing.T, dbPath string, keys *secrets.Keyring, metricsToken string, clk *clock) *mstack {
	t.Helper()
	db, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m := metrics.New()
	srv := httptest.NewUnstartedServer(nil)
	gw := gateway.New(gateway.Options{Store: db, Keys: keys, PublicURL: "http://" + srv.Listener.Addr().String(),
		AllowPrivate: true, Metrics: m, Now: clk.Now, HTTPClient: netguard.NewClient(netguard.Policy{AllowPrivate: true})})
	srv.Config.Handler = server.New(server.Options{Gateway: gw, DB: db, Tokens: apitoken.New(db, hashOf(adminToken), clk.Now),
		Metrics: m, MetricsToken: metricsToken})
	srv.Start()
	t.Cleanup(srv.Close)
	return &mstack{t: t, url: srv.URL, gw: gw, m: m, clock: clk}
}

func (s *mstack) do(method, path string, body any, hdr ...string) (int, string) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

const metricsDoc = `{"openapi": "3.0.3", "info": {"title": "m", "version": "1"},
 "paths": {"/items/{id}": {"get": {"operationId": "getItem",
   "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
   "responses": {"200": {"description": "ok"}}}}}}`

// upstreamNamed answers its name, for telling servers apart.
func upstreamNamed(t *testing.T, name string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"server":"`+name+`"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newKeys(t *testing.T) *secrets.Keyring {
	k, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return secrets.NewKeyring(k)
}

func TestMetricsEndpoint(t *testing.T) {
	up := upstreamNamed(t, "a")
	s := newMetricsStack(t, filepath.Join(t.TempDir(), "db"), newKeys(t), "", &clock{now: time.Now()})
	st, body := s.do("POST", "/v1/actions", map[string]any{"name": "m", "schema": metricsDoc, "server_url": up.URL,
		"auth": map[string]any{"type": "api_key", "api_key": "k-SECRET", "auth_type": "bearer"}})
	if st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	var a struct{ ID string }
	json.Unmarshal([]byte(body), &a)
	for range 3 {
		if st, body := s.do("POST", "/v1/actions/"+a.ID+"/invoke", map[string]any{"user": "user-PRIVATE", "operation": "getItem", "arguments": map[string]any{"id": "1"}}); st != 200 {
			t.Fatalf("invoke: %d %s", st, body)
		}
	}
	s.do("POST", "/v1/actions/"+a.ID+"/invoke", map[string]any{"operation": "no-such-op-RANDOM"})
	s.do("POST", "/v1/actions/act_unknownRANDOM/invoke", map[string]any{"operation": "getItem"})
	if st, body := s.do("GET", "/v1/proxy/"+a.ID+"/items/2", nil, gateway.UserHeader, "user-PRIVATE"); st != 200 || !strings.Contains(body, `"a"`) {
		t.Fatalf("proxy: %d %s", st, body)
	}
	req, _ := http.NewRequest("GET", s.url+"/v1/actions", nil) // no token
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()

	resp, err := http.Get(s.url + "/metrics") // no token needed
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(raw)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	for _, want := range []string{
		`actiongate_calls_total{action="` + a.ID + `",mode="invoke",operation="getItem",outcome="ok",upstream_status="2xx"} 3`,
		`actiongate_calls_total{action="` + a.ID + `",mode="invoke",operation="",outcome="not_found",upstream_status="none"} 1`,
		`actiongate_calls_total{action="",mode="invoke",operation="",outcome="not_found",upstream_status="none"} 1`,
		`actiongate_calls_total{action="` + a.ID + `",mode="proxy",operation="",outcome="ok",upstream_status="2xx"} 1`,
		`actiongate_call_gateway_seconds_count{action="` + a.ID + `",mode="invoke"} 4`,
		`actiongate_call_upstream_seconds_count{action="` + a.ID + `",mode="proxy"} 1`,
		`actiongate_api_requests_total{outcome="unauthorized",route="GET /v1/actions"} 1`,
		`actiongate_api_requests_total{outcome="ok",route="POST /v1/actions/{id}/invoke"} 3`,
		`actiongate_cache_lookups_total{cache="action",result="hit"}`,
		`actiongate_token_refreshes_total{outcome="refreshed"} 0`,
		`actiongate_sign_ins_total{event="started",reason=""} 0`,
		"go_goroutines ", "process_cpu_seconds_total ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, leak := range []string{"PRIVATE", "SECRET", "RANDOM"} {
		if strings.Contains(text, leak) {
			t.Errorf("/metrics shows caller input or a secret (%s)", leak)
		}
	}
}

func TestMetricsToken(t *testing.T) {
	s := newMetricsStack(t, filepath.Join(t.TempDir(), "db"), newKeys(t), "metrics-token-123", &clock{now: time.Now()})
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer " + adminToken, 401}, {"Bearer metrics-token-123", 200}} {
		req, _ := http.NewRequest("GET", s.url+"/metrics", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if tc.want == 401 && !strings.Contains(string(raw), `"code":"unauthorized"`) {
			t.Errorf("/metrics with %q: not the contract's error shape: %s", tc.auth, raw)
		}
		if resp.StatusCode != tc.want {
			t.Errorf("/metrics with %q: %d, want %d", tc.auth, resp.StatusCode, tc.want)
		}
	}
}

// TestCachesAcrossReplicas: a change on this replica shows at once; one made
// by another replica on the same database shows within the cache TTL.
func TestCachesAcrossReplicas(t *testing.T) {
	a, b := upstreamNamed(t, "a"), upstreamNamed(t, "b")
	path, keys := filepath.Join(t.TempDir(), "db"), newKeys(t)
	clk := &clock{now: time.Now()}
	one := newMetricsStack(t, path, keys, "", clk)
	two := newMetricsStack(t, path, keys, "", clk)
	create := func(server string) map[string]any {
		return map[string]any{"name": "m", "schema": metricsDoc, "server_url": server,
			"auth": map[string]any{"type": "api_key", "api_key": "k", "auth_type": "bearer"}}
	}
	st, body := one.do("POST", "/v1/actions", create(a.URL))
	if st != 201 {
		t.Fatal(st, body)
	}
	var act struct{ ID string }
	json.Unmarshal([]byte(body), &act)
	call := func(s *mstack) string {
		t.Helper()
		st, body := s.do("POST", "/v1/actions/"+act.ID+"/invoke", map[string]any{"operation": "getItem", "arguments": map[string]any{"id": "1"}})
		if st != 200 {
			return "status " + body
		}
		var r struct {
			Body struct{ Server string }
		}
		json.Unmarshal([]byte(body), &r)
		return r.Body.Server
	}
	if call(one) != "a" || call(two) != "a" {
		t.Fatal("first calls")
	}
	// Changed on replica one: one sees it at once, two within the TTL.
	if st, body := one.do("PUT", "/v1/actions/"+act.ID, create(b.URL)); st != 200 {
		t.Fatal(st, body)
	}
	if got := call(one); got != "b" {
		t.Fatalf("the replica that changed the action still calls %q", got)
	}
	if got := call(two); got != "a" {
		t.Fatalf("the other replica, within the TTL: %q (expected the cached server a)", got)
	}
	clk.Add(gateway.DefaultCacheTTL)
	if got := call(two); got != "b" {
		t.Fatalf("the other replica after the TTL: %q", got)
	}
	// Deleted on replica two: two answers not_found at once, one after the TTL.
	if st, body := two.do("DELETE", "/v1/actions/"+act.ID, nil); st != 204 {
		t.Fatal(st, body)
	}
	if got := call(two); !strings.Contains(got, "not_found") {
		t.Fatalf("deleting replica: %q", got)
	}
	clk.Add(gateway.DefaultCacheTTL)
	if got := call(one); !strings.Contains(got, "not_found") {
		t.Fatalf("other replica after the TTL: %q", got)
	}
}

// TestConcurrentCallsAndUpdates races invokes against updates (run with -race).
func TestConcurrentCallsAndUpdates(t *testing.T) {
	a := upstreamNamed(t, "a")
	s := newMetricsStack(t, filepath.Join(t.TempDir(), "db"), newKeys(t), "", &clock{now: time.Now()})
	doc := map[string]any{"name": "m", "schema": metricsDoc, "server_url": a.URL,
		"auth": map[string]any{"type": "api_key", "api_key": "k", "auth_type": "bearer"}}
	_, body := s.do("POST", "/v1/actions", doc)
	var act struct{ ID string }
	json.Unmarshal([]byte(body), &act)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				s.do("POST", "/v1/actions/"+act.ID+"/invoke", map[string]any{"operation": "getItem", "arguments": map[string]any{"id": "1"}})
				s.do("GET", "/v1/proxy/"+act.ID+"/items/1", nil)
			}
		}()
	}
	for range 10 {
		s.do("PUT", "/v1/actions/"+act.ID, doc)
	}
	wg.Wait()
}
