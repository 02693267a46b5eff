package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/oauth/oauthtest"
	"github.com/actiongate/actiongate/internal/secrets"
)

// call sends a request with a given bearer token.
func (s *stack) call(token, method, path, body string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s.mu.Lock()
	s.responses.Write(b)
	s.mu.Unlock()
	return resp.StatusCode, string(b)
}

func TestScopedTokens(t *testing.T) {
	s := newStack(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	_, a := s.api("POST", "/v1/actions", map[string]any{"name": "t", "schema": simpleSpec(up.URL), "auth": map[string]any{"type": "none"}})
	id := a["id"].(string)

	st, inv := s.api("POST", "/v1/tokens", map[string]any{"name": "platform backend", "scopes": []string{"invoke"}})
	if st != 201 || !strings.HasPrefix(inv["token"].(string), "agt_") {
		t.Fatalf("create: %d %v", st, inv)
	}
	invokeTok := inv["token"].(string)
	st, usr := s.api("POST", "/v1/tokens", map[string]any{"name": "alice's MCP", "scopes": []string{"invoke"}, "user": "alice"})
	if st != 201 {
		t.Fatalf("create user token: %d %v", st, usr)
	}
	userTok := usr["token"].(string)
	// The secrets were shown once, above; from here on no response may carry them.
	s.mu.Lock()
	s.responses.Reset()
	s.mu.Unlock()

	// An invoke token cannot manage actions or tokens, but can invoke.
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/actions", `{"name":"x","schema":"x","auth":{"type":"none"}}`},
		{"GET", "/v1/actions", ""},
		{"DELETE", "/v1/actions/" + id, ""},
		{"POST", "/v1/tokens", `{"name":"x","scopes":["admin"]}`},
		{"GET", "/v1/audit", ""},
		{"POST", "/v1/keys/rotate", ""},
	} {
		if st, body := s.call(invokeTok, c.method, c.path, c.body); st != 403 || !strings.Contains(body, `"forbidden"`) {
			t.Errorf("invoke token %s %s: %d %s", c.method, c.path, st, body)
		}
	}
	if st, body := s.call(invokeTok, "POST", "/v1/actions/"+id+"/invoke", `{"user":"bob","operation":"listItems"}`); st != 200 {
		t.Fatalf("invoke token invoking: %d %s", st, body)
	}

	// A user-bound token acts only for its user, and names it by itself.
	if st, body := s.call(userTok, "POST", "/v1/actions/"+id+"/invoke", `{"operation":"listItems"}`); st != 200 {
		t.Fatalf("user token: %d %s", st, body)
	}
	if st, body := s.call(userTok, "POST", "/v1/actions/"+id+"/invoke", `{"user":"mallory","operation":"listItems"}`); st != 403 {
		t.Fatalf("user token for another user: %d %s", st, body)
	}
	if st, body := s.call(userTok, "GET", "/v1/connections?user=mallory", ""); st != 403 {
		t.Fatalf("user token listing another user: %d %s", st, body)
	}
	if st, _ := s.api("POST", "/v1/tokens", map[string]any{"name": "x", "scopes": []string{"admin"}, "user": "alice"}); st != 400 {
		t.Fatalf("admin scope on a user token: %d", st)
	}

	// Listing never shows a secret; revoking stops the token.
	st, list := s.api("GET", "/v1/tokens", nil)
	if st != 200 || len(list["tokens"].([]any)) != 2 {
		t.Fatalf("list: %d %v", st, list)
	}
	for _, tk := range list["tokens"].([]any) {
		if tk.(map[string]any)["token"] != nil {
			t.Fatalf("list shows a secret: %v", tk)
		}
	}
	if st, _ := s.api("DELETE", "/v1/tokens/"+inv["id"].(string), nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	if st, _ := s.call(invokeTok, "POST", "/v1/actions/"+id+"/invoke", `{"operation":"listItems"}`); st != 401 {
		t.Fatalf("revoked token still works: %d", st)
	}
	if st, _ := s.api("DELETE", "/v1/tokens/tok_nope", nil); st != 404 {
		t.Fatalf("revoke unknown: %d", st)
	}
	// Token secrets never reach the database or the logs.
	s.scan(invokeTok, userTok)
}

// TestKeyRotationWithLiveConnections rotates the master key under an API-key
// action and a signed-in OAuth connection with no downtime, resumes an
// interrupted rotation, and then runs on the new key alone.
func TestKeyRotationWithLiveConnections(t *testing.T) {
	k1, _ := secrets.GenerateKey()
	k2, _ := secrets.GenerateKey()
	ts := newStackWith(t, stackConfig{keys: secrets.NewKeyring(k1)})
	s := ts.stack
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Key") != "rotate-key-LEAKCHECK" {
			w.WriteHeader(401)
		}
	}))
	defer up.Close()
	_, a := s.api("POST", "/v1/actions", map[string]any{"name": "k", "schema": simpleSpec(up.URL),
		"auth": map[string]any{"type": "api_key", "api_key": "rotate-key-LEAKCHECK", "auth_type": "custom", "custom_header": "X-Key"}})
	keyAction := a["id"].(string)
	as, oauthAction := oauthSetup(t, s, true, "post", oauthtest.Options{})
	as.SetUser("alice")
	_, res := s.api("POST", "/v1/connect", map[string]any{"user": "alice", "action": oauthAction})
	if st, page := signIn(t, s, as, s.browser(), res["sign_in_url"].(string)); st != 200 {
		t.Fatalf("sign-in: %d %s", st, page)
	}
	works := func(s *stack, when string) {
		t.Helper()
		if st, r := s.api("POST", "/v1/actions/"+keyAction+"/invoke", map[string]any{"operation": "listItems"}); st != 200 || r["status"] != float64(200) {
			t.Fatalf("%s: api key action: %d %v", when, st, r)
		}
		if st, r := invokeMe(s, oauthAction, "alice"); st != 200 || r["status"] != float64(200) {
			t.Fatalf("%s: oauth action: %d %v", when, st, r)
		}
	}
	works(s, "before rotation")

	// Replica restarted with NEW,OLD: everything still decrypts.
	both := secrets.NewKeyring(k2, k1)
	ts2 := newStackWith(t, stackConfig{dir: s.dir, keys: both})
	works(ts2.stack, "with both keys")

	// An interrupted rotation: one value re-wrapped, then a crash.
	n := 0
	_, err := ts2.db.RewrapAll(context.Background(), func(ct []byte) ([]byte, bool, error) {
		if id, _ := both.KeyID(ct); id == both.Primary() {
			return nil, false, nil
		}
		if n == 1 {
			return nil, false, context.Canceled // the crash
		}
		n++
		nct, err := both.Rewrap(ct)
		return nct, true, err
	})
	if err == nil || n != 1 {
		t.Fatalf("simulated crash: n=%d err=%v", n, err)
	}
	works(ts2.stack, "mid-rotation")

	// The rotation endpoint finishes the job; a second run has nothing to do.
	st, rot := ts2.api("POST", "/v1/keys/rotate", nil)
	if st != 200 || rot["rewrapped"].(float64) < 2 || rot["primary_key"] != k2.ID() {
		t.Fatalf("rotate: %d %v", st, rot)
	}
	by := rot["sealed_values_by_key"].(map[string]any)
	if len(by) != 1 || by[k2.ID()] == nil {
		t.Fatalf("values still under old keys: %v", by)
	}
	if st, rot = ts2.api("POST", "/v1/keys/rotate", nil); st != 200 || rot["rewrapped"] != float64(0) {
		t.Fatalf("second rotate: %d %v", st, rot)
	}

	// The old key can go.
	ts3 := newStackWith(t, stackConfig{dir: s.dir, keys: secrets.NewKeyring(k2)})
	works(ts3.stack, "new key alone")

	// The audit log recorded the credential events, with who did them.
	st, ev := ts3.api("GET", "/v1/audit?limit=1000", nil)
	if st != 200 {
		t.Fatalf("audit: %d %v", st, ev)
	}
	seen := map[string]bool{}
	for _, e := range ev["events"].([]any) {
		m := e.(map[string]any)
		seen[m["type"].(string)] = true
		if m["actor"] == "" {
			t.Fatalf("event without actor: %v", m)
		}
	}
	for _, want := range []string{"action.created", "connection.created", "key.rotated"} {
		if !seen[want] {
			t.Errorf("audit log lacks %s: %v", want, seen)
		}
	}
	st, ev = ts3.api("GET", "/v1/audit?type=connection.created&user=alice", nil)
	if st != 200 || len(ev["events"].([]any)) != 1 || ev["events"].([]any)[0].(map[string]any)["action_id"] != oauthAction {
		t.Fatalf("filtered audit: %d %v", st, ev)
	}
	if st, _ := ts3.api("GET", "/v1/audit?limit=5000", nil); st != 400 {
		t.Fatalf("bad limit: %d", st)
	}
	s.scan("LEAKCHECK", clientSecret)
	ts2.scan("LEAKCHECK", clientSecret)
	s.scanRecorded()

}

// TestSecretsStayWithTheirSite: an operation may not send credentials to
// another site, and an update cannot move a kept secret to another host.
func TestSecretsStayWithTheirSite(t *testing.T) {
	s := newStack(t)
	spec := func(server, opServer string) string {
		return `openapi: 3.0.3
info: {title: t, version: "1"}
servers: [{url: "` + server + `"}]
paths:
  /upload:
    servers: [{url: "` + opServer + `"}]
    post:
      operationId: upload
      responses: {"200": {description: ok}}
  /items:
    get:
      operationId: items
      responses: {"200": {description: ok}}
`
	}
	key := map[string]any{"type": "api_key", "api_key": "site-key-LEAKCHECK", "auth_type": "bearer"}
	// An operation on another site is called without the credential.
	var got []string
	var mu sync.Mutex
	rec := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Host+" "+r.Header.Get("Authorization"))
		mu.Unlock()
	}
	home := httptest.NewServer(http.HandlerFunc(rec))
	defer home.Close()
	other := httptest.NewServer(http.HandlerFunc(rec))
	defer other.Close()
	otherSite := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	st, res := s.api("POST", "/v1/actions", map[string]any{"name": "x", "schema": spec(home.URL, otherSite), "auth": key})
	if st != 201 {
		t.Fatalf("create with an off-site operation: %d %v", st, res)
	}
	xid := res["id"].(string)
	for _, op := range []string{"items", "upload"} {
		if st, r := s.api("POST", "/v1/actions/"+xid+"/invoke", map[string]any{"operation": op, "confirmed": true}); st != 200 {
			t.Fatalf("%s: %d %v", op, st, r)
		}
	}
	mu.Lock()
	if len(got) != 2 || got[0] != strings.TrimPrefix(home.URL, "http://")+" Bearer site-key-LEAKCHECK" ||
		got[1] != strings.TrimPrefix(otherSite, "http://")+" " {
		t.Fatalf("requests: %q", got)
	}
	mu.Unlock()

	st, a := s.api("POST", "/v1/actions", map[string]any{"name": "x", "schema": spec("https://api.example.com", "https://upload.example.com"), "auth": key})
	if st != 201 {
		t.Fatalf("same-site operation server: %d %v", st, a)
	}
	id := a["id"].(string)

	keep := map[string]any{"type": "api_key", "auth_type": "bearer"}
	st, res = s.api("PUT", "/v1/actions/"+id, map[string]any{"name": "x", "schema": spec("https://api.other.example", "https://api.other.example"), "auth": keep})
	if st != 400 || errCode(res) != "invalid_request" || !strings.Contains(errField(res, "message"), "auth.api_key") {
		t.Fatalf("moved server without the key: %d %v", st, res)
	}
	if st, res = s.api("PUT", "/v1/actions/"+id, map[string]any{"name": "renamed", "schema": spec("https://api.example.com", "https://upload.example.com"), "auth": keep}); st != 200 {
		t.Fatalf("same host, key kept: %d %v", st, res)
	}
	if st, res = s.api("PUT", "/v1/actions/"+id, map[string]any{"name": "x", "schema": spec("https://api.other.example", "https://api.other.example"), "auth": key}); st != 200 {
		t.Fatalf("moved server with the key given again: %d %v", st, res)
	}

	oauth := func(tokenURL string, secret bool) map[string]any {
		m := map[string]any{"type": "oauth", "client_id": "c", "authorization_url": "https://auth.example.com/a", "token_url": tokenURL}
		if secret {
			m["client_secret"] = "site-secret-LEAKCHECK"
		}
		return m
	}
	_, o := s.api("POST", "/v1/actions", map[string]any{"name": "o", "schema": spec("https://api.example.com", "https://api.example.com"), "auth": oauth("https://auth.example.com/token", true)})
	oid := o["id"].(string)
	st, res = s.api("PUT", "/v1/actions/"+oid, map[string]any{"name": "o", "schema": spec("https://api.example.com", "https://api.example.com"), "auth": oauth("https://evil.example.net/token", false)})
	if st != 400 || !strings.Contains(errField(res, "message"), "auth.client_secret") {
		t.Fatalf("moved token_url without the secret: %d %v", st, res)
	}
	if st, res = s.api("PUT", "/v1/actions/"+oid, map[string]any{"name": "o2", "schema": spec("https://api.example.com", "https://api.example.com"), "auth": oauth("https://auth.example.com/token2", false)}); st != 200 {
		t.Fatalf("same token host, secret kept: %d %v", st, res)
	}
	s.scan("LEAKCHECK")
}

// TestKeyRotationDuringRefresh: a master-key rotation that re-wraps a
// connection's refresh token while that connection is being refreshed does
// not make the refresh think the user signed in again: the provider's new
// tokens are kept, and the next refresh presents the rotated refresh token
// (fosite would see a reuse and revoke the grant otherwise).
func TestKeyRotationDuringRefresh(t *testing.T) {
	k1, _ := secrets.GenerateKey()
	k2, _ := secrets.GenerateKey()
	old := newStackWith(t, stackConfig{keys: secrets.NewKeyring(k1)})
	as, id := oauthSetup(t, old.stack, true, "post", oauthtest.Options{})
	as.SetUser("alice")
	connectUser(t, old.stack, as, id, "alice")

	ts := newStackWith(t, stackConfig{dir: old.dir, keys: secrets.NewKeyring(k2, k1)})
	s := ts.stack
	var rotated atomic.Int64
	ts.hook.onRefresh(func(req *http.Request, next http.RoundTripper) (*http.Response, error) {
		if rotated.Load() == 0 { // the first refresh: rotate while it is at the provider
			st, rot := s.api("POST", "/v1/keys/rotate", nil)
			if st != 200 {
				return nil, fmt.Errorf("rotate: %d %v", st, rot)
			}
			rotated.Store(int64(rot["rewrapped"].(float64)))
		}
		return next.RoundTrip(req)
	})
	s.clock.Add(61 * time.Minute)
	wantInvokeOK(t, s, id, "alice")
	if rotated.Load() < 2 { // at least the access and the refresh token
		t.Fatalf("rotation re-wrapped %d values", rotated.Load())
	}
	if strings.Contains(s.logs.String(), "signed in again meanwhile") {
		t.Fatalf("the re-wrapped refresh token was taken for a new sign-in:\n%s", s.logs.String())
	}
	s.clock.Add(61 * time.Minute)
	wantInvokeOK(t, s, id, "alice")
	if as.RefreshRequests() != 2 || as.RefreshTokenReuses() != 0 {
		t.Fatalf("refreshes %d, reuses %d", as.RefreshRequests(), as.RefreshTokenReuses())
	}
	if c := connection(t, s, id, "alice"); c["status"] != "connected" {
		t.Fatalf("connection after rotation: %v", c)
	}
}

// TestSecretUnderMissingKey: a secret sealed under a master key that is no
// longer configured fails only the calls that need it: actions still list,
// other actions still work, and a rotation re-wraps everything else and says
// what it left.
func TestSecretUnderMissingKey(t *testing.T) {
	kOld, _ := secrets.GenerateKey()
	kX, _ := secrets.GenerateKey()
	kNew, _ := secrets.GenerateKey()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("X-Key"), "key-") {
			w.WriteHeader(401)
		}
	}))
	defer up.Close()
	create := func(s *stack, key string) string {
		st, a := s.api("POST", "/v1/actions", map[string]any{"name": "k", "schema": simpleSpec(up.URL),
			"auth": map[string]any{"type": "api_key", "api_key": key, "auth_type": "custom", "custom_header": "X-Key"}})
		if st != 201 {
			t.Fatalf("create: %d %v", st, a)
		}
		return a["id"].(string)
	}
	first := newStackWith(t, stackConfig{keys: secrets.NewKeyring(kOld)})
	underOld := create(first.stack, "key-old-LEAKCHECK")
	second := newStackWith(t, stackConfig{dir: first.dir, keys: secrets.NewKeyring(kX, kOld)})
	underX := create(second.stack, "key-x-LEAKCHECK")

	ts := newStackWith(t, stackConfig{dir: first.dir, keys: secrets.NewKeyring(kNew, kOld)}) // X is gone
	s := ts.stack
	if st, res := s.api("GET", "/v1/actions", nil); st != 200 || len(res["actions"].([]any)) != 2 {
		t.Fatalf("list: %d %v", st, res)
	}
	if st, res := s.api("GET", "/v1/actions/"+underX, nil); st != 200 || res["auth"].(map[string]any)["has_api_key"] != true {
		t.Fatalf("get: %d %v", st, res)
	}
	if st, res := s.api("POST", "/v1/actions/"+underOld+"/invoke", map[string]any{"operation": "listItems"}); st != 200 || res["status"] != float64(200) {
		t.Fatalf("invoke under the old key: %d %v", st, res)
	}
	st, res := s.api("POST", "/v1/actions/"+underX+"/invoke", map[string]any{"operation": "listItems"})
	if st != 500 || !strings.Contains(fmt.Sprint(res), "cannot be opened with the configured master keys") {
		t.Fatalf("invoke under the missing key: %d %v", st, res)
	}
	if !strings.Contains(s.logs.String(), kX.ID()) {
		t.Fatal("the log does not name the missing key")
	}
	st, rot := s.api("POST", "/v1/keys/rotate", nil)
	if st != 200 || rot["rewrapped"] != float64(1) || fmt.Sprint(rot["unopenable"]) != fmt.Sprintf("map[%s:1]", kX.ID()) {
		t.Fatalf("rotate: %d %v", st, rot)
	}
	if by := rot["sealed_values_by_key"].(map[string]any); by[kNew.ID()] != float64(1) || by[kX.ID()] != float64(1) || by[kOld.ID()] != nil {
		t.Fatalf("after rotation: %v", by)
	}
	s.scan("LEAKCHECK")
}
