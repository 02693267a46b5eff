package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
