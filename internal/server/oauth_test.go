package server_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/oauth/oauthtest"
)

const clientSecret = "fosite-client-secret-LEAKCHECK"

// meSpec describes the authorization server's protected API.
func meSpec(server string) string {
	return `openapi: 3.1.0
info: {title: Me, version: "1"}
servers: [{url: "` + server + `/api"}]
paths:
  /me:
    get:
      operationId: me
      responses: {"200": {description: the signed-in user}}
`
}

// oauthSetup starts a fosite server whose client redirects to the stack, and
// registers an oauth action for it.
func oauthSetup(t *testing.T, s *stack, pkce bool, method string, opts oauthtest.Options) (*oauthtest.Server, string) {
	t.Helper()
	authMethod := oauthtest.AuthMethodPost
	if method == "basic" {
		authMethod = oauthtest.AuthMethodBasic
	}
	opts.EnforcePKCE = pkce
	opts.Clients = []oauthtest.Client{{
		ID: "gateway-client", Secret: clientSecret, AuthMethod: authMethod,
		RedirectURIs: []string{s.callbackURL()}, Scopes: []string{"read", "write"},
	}}
	as := oauthtest.NewServer(t, opts)
	st, a := s.api("POST", "/v1/actions", map[string]any{
		"name": "fosite", "schema": meSpec(as.URL()),
		"auth": map[string]any{
			"type": "oauth", "client_id": "gateway-client", "client_secret": clientSecret,
			"authorization_url": as.AuthorizationURL(), "token_url": as.TokenURL(), "revocation_url": as.RevocationURL(),
			"scope": "read write", "token_exchange_method": method, "pkce": pkce,
		},
	})
	if st != 201 {
		t.Fatalf("create: %d %v", st, a)
	}
	if a["callback_url"] != s.callbackURL() || a["auth"].(map[string]any)["client_secret"] != nil {
		t.Fatalf("action: %v", a)
	}
	return as, a["id"].(string)
}

// signIn drives a browser through sign_in_url → provider → callback and
// returns the callback page.
func signIn(t *testing.T, s *stack, as *oauthtest.Server, b *browser, signInURL string) (int, string) {
	t.Helper()
	st, loc, body := b.get(signInURL)
	if st != 302 {
		t.Fatalf("sign-in link: %d %s", st, body)
	}
	cb, err := as.Authorize(t.Context(), loc)
	if err != nil {
		t.Fatal(err)
	}
	st, _, body = b.get(cb.String())
	return st, body
}

func invokeMe(s *stack, id, user string) (int, map[string]any) {
	return s.api("POST", "/v1/actions/"+id+"/invoke", map[string]any{"user": user, "operation": "me"})
}

// TestOAuthEndToEnd runs the whole flow against the fosite server: invoke →
// sign_in_required → link → provider → callback → invoke succeeds, with PKCE on
// and off and both client authentication methods.
func TestOAuthEndToEnd(t *testing.T) {
	for _, pkce := range []bool{true, false} {
		for _, method := range []string{"post", "basic"} {
			t.Run(map[bool]string{true: "pkce", false: "no-pkce"}[pkce]+"/"+method, func(t *testing.T) {
				s := newStack(t)
				as, id := oauthSetup(t, s, pkce, method, oauthtest.Options{})
				as.SetUser("alice")

				st, res := invokeMe(s, id, "alice")
				if st != 403 || errCode(res) != "sign_in_required" || errField(res, "domain") != "127.0.0.1" {
					t.Fatalf("first invoke: %d %v", st, res)
				}
				link := errField(res, "sign_in_url")
				if !strings.HasPrefix(link, s.srv.URL+"/oauth/start?") {
					t.Fatalf("sign_in_url %q is not a gateway URL", link)
				}

				// The link redirects to the provider with exactly the expected parameters.
				b := s.browser()
				code, loc, _ := b.get(link)
				if code != 302 {
					t.Fatalf("link: %d", code)
				}
				u, _ := url.Parse(loc)
				q := u.Query()
				if u.Scheme+"://"+u.Host+u.Path != as.AuthorizationURL() || q.Get("response_type") != "code" ||
					q.Get("client_id") != "gateway-client" || q.Get("redirect_uri") != s.callbackURL() ||
					q.Get("scope") != "read write" || len(q.Get("state")) < 43 {
					t.Fatalf("authorization URL: %s", loc)
				}
				if pkce != (q.Get("code_challenge") != "" && q.Get("code_challenge_method") == "S256") {
					t.Fatalf("pkce=%v but URL %s", pkce, loc)
				}
				if q.Get("code_challenge_method") == "plain" {
					t.Fatal("never plain")
				}
				cb, err := as.Authorize(t.Context(), loc)
				if err != nil {
					t.Fatal(err)
				}
				st, _, page := b.get(cb.String())
				if st != 200 {
					t.Fatalf("callback: %d %s", st, page)
				}
				mustContain(t, page, "Signed in to 127.0.0.1")

				st, res = invokeMe(s, id, "alice")
				if st != 200 || res["status"] != float64(200) {
					t.Fatalf("invoke after sign-in: %d %v", st, res)
				}
				if sub := res["body"].(map[string]any)["sub"]; sub != "alice" {
					t.Fatalf("API saw subject %v", sub)
				}

				// Replaying the callback is refused without a token request.
				n := as.TokenRequests()
				if st, _, page = b.get(cb.String()); st != 400 {
					t.Fatalf("replayed callback: %d %s", st, page)
				}
				if as.TokenRequests() != n {
					t.Fatal("a replayed state made a token request")
				}

				// User B is never served by user A's connection.
				if st, res = invokeMe(s, id, "bob"); st != 403 || errCode(res) != "sign_in_required" {
					t.Fatalf("bob: %d %v", st, res)
				}

				// Connections, then sign-out (with revocation at the provider).
				st, res = s.api("GET", "/v1/connections?user=alice", nil)
				cs := res["connections"].([]any)
				if st != 200 || len(cs) != 1 || cs[0].(map[string]any)["status"] != "connected" ||
					cs[0].(map[string]any)["scope"] != "read write" || cs[0].(map[string]any)["action_id"] != id {
					t.Fatalf("connections: %d %v", st, res)
				}
				if st, res = s.api("DELETE", "/v1/connections/"+id+"/alice", nil); st != 204 {
					t.Fatalf("delete: %d %v", st, res)
				}
				if as.RevocationRequests() == 0 {
					t.Fatal("no revocation request reached the provider")
				}
				if st, res = invokeMe(s, id, "alice"); st != 403 || errCode(res) != "sign_in_required" {
					t.Fatalf("after delete: %d %v", st, res)
				}
				if st, res = s.api("DELETE", "/v1/connections/"+id+"/alice", nil); st != 404 || errCode(res) != "not_found" {
					t.Fatalf("second delete: %d %v", st, res)
				}
				s.scan(clientSecret, "LEAKCHECK")
				s.scanRecorded()
			})
		}
	}
}

// scanRecorded scans for every token and code the gateway ever received.
func (s *stack) scanRecorded() {
	s.t.Helper()
	var needles []string
	s.rec.mu.Lock()
	for _, b := range s.rec.seen {
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			for _, k := range []string{"access_token", "refresh_token"} {
				if v, ok := m[k].(string); ok && v != "" {
					needles = append(needles, v)
				}
			}
		}
	}
	s.rec.mu.Unlock()
	if len(needles) == 0 {
		s.t.Fatal("recorded no tokens: the scan would prove nothing")
	}
	s.scan(needles...)
}

// TestCallbackRejectsBadStates covers QUIRKS Q22 and Q23: each bad callback
// answers 400 with a page and makes no token request.
func TestCallbackRejectsBadStates(t *testing.T) {
	s := newStack(t)
	as, id := oauthSetup(t, s, true, "post", oauthtest.Options{})

	// start opens a fresh link in browser b and returns the provider redirect.
	start := func(b *browser, user string) *url.URL {
		t.Helper()
		st, res := s.api("POST", "/v1/connect", map[string]any{"user": user, "action": id})
		if st != 200 || res["sign_in_url"] == "" {
			t.Fatalf("connect: %d %v", st, res)
		}
		exp, err := time.Parse(time.RFC3339, res["expires_at"].(string))
		if err != nil || exp.Sub(s.clock.Now()) > 10*time.Minute+time.Second || exp.Sub(s.clock.Now()) < 9*time.Minute {
			t.Fatalf("expires_at %v", res["expires_at"])
		}
		_, loc, _ := b.get(res["sign_in_url"].(string))
		cb, err := as.Authorize(t.Context(), loc)
		if err != nil {
			t.Fatal(err)
		}
		return cb
	}
	withState := func(cb *url.URL, mutate func(q url.Values)) string {
		q := cb.Query()
		mutate(q)
		u := *cb
		u.RawQuery = q.Encode()
		return u.String()
	}
	before := as.TokenRequests()
	cases := []struct {
		name string
		url  func(b *browser) string
		want string
	}{
		{"missing state", func(b *browser) string {
			return withState(start(b, "u1"), func(q url.Values) { q.Del("state") })
		}, "no state"},
		{"unknown state", func(b *browser) string {
			return withState(start(b, "u1"), func(q url.Values) { q.Set("state", "forged-state-0123456789") })
		}, "expired or was already used"}, // no cookie for a forged state: the combined page
		{"no code and no error", func(b *browser) string {
			return withState(start(b, "u1"), func(q url.Values) { q.Del("code") })
		}, "neither a code nor an error"},
		{"user cancelled", func(b *browser) string {
			return withState(start(b, "u1"), func(q url.Values) {
				q.Del("code")
				q.Set("error", "access_denied")
				q.Set("error_description", "The user denied the request")
			})
		}, "You cancelled signing in to 127.0.0.1"},
		{"provider error", func(b *browser) string {
			return withState(start(b, "u1"), func(q url.Values) { q.Del("code"); q.Set("error", "server_error") })
		}, "server_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := s.browser()
			st, _, page := b.get(tc.url(b))
			if st != 400 {
				t.Fatalf("%d %s", st, page)
			}
			mustContain(t, page, tc.want)
		})
	}
	if as.TokenRequests() != before {
		t.Fatalf("bad callbacks made %d token requests", as.TokenRequests()-before)
	}

	// The browser that opened the link must finish it (CSRF, RFC 9700 §4.7).
	owner := s.browser()
	cb := start(owner, "u2")
	st, _, page := s.browser().get(cb.String())
	if st != 400 {
		t.Fatalf("other browser: %d %s", st, page)
	}
	mustContain(t, page, "another browser")
	// ...and does not use up the state: the owner's browser still finishes.
	if st, _, page = owner.get(cb.String()); st != 200 {
		t.Fatalf("owner after another browser tried: %d %s", st, page)
	}
	before = as.TokenRequests()

	// Expired: the state outlives its 10 minutes.
	b := s.browser()
	cb = start(b, "u3")
	s.clock.Add(11 * time.Minute)
	if st, _, page = b.get(cb.String()); st != 400 {
		t.Fatalf("expired: %d %s", st, page)
	}
	mustContain(t, page, "expired")
	if as.TokenRequests() != before {
		t.Fatal("a bad callback made a token request")
	}

	// An expired link does not even redirect.
	_, res := s.api("POST", "/v1/connect", map[string]any{"user": "u4", "action": id})
	s.clock.Add(11 * time.Minute)
	if st, _, page = s.browser().get(res["sign_in_url"].(string)); st != 400 {
		t.Fatalf("expired link: %d %s", st, page)
	}
	// A tampered link is refused.
	if st, _, _ = s.browser().get(s.srv.URL + "/oauth/start?link=AAAA" + strings.Repeat("B", 120)); st != 400 {
		t.Fatalf("tampered link: %d", st)
	}

	// A cancelled state is consumed: the same state cannot then complete.
	b = s.browser()
	cb = start(b, "u5")
	b.get(withState(cb, func(q url.Values) { q.Del("code"); q.Set("error", "access_denied") }))
	if st, _, _ = b.get(cb.String()); st != 400 {
		t.Fatalf("state reused after cancel: %d", st)
	}
	// And a good one still works.
	b = s.browser()
	cb = start(b, "u6")
	if st, _, page = b.get(cb.String()); st != 200 {
		t.Fatalf("good callback: %d %s", st, page)
	}
}

// TestSignInAgainReplacesConnection: a second sign-in replaces, never duplicates.
func TestSignInAgainReplacesConnection(t *testing.T) {
	s := newStack(t)
	as, id := oauthSetup(t, s, true, "basic", oauthtest.Options{})
	for i := 0; i < 2; i++ {
		_, res := s.api("POST", "/v1/connect", map[string]any{"user": "alice", "action": id})
		if st, page := signIn(t, s, as, s.browser(), res["sign_in_url"].(string)); st != 200 {
			t.Fatalf("sign-in %d: %d %s", i, st, page)
		}
	}
	_, res := s.api("GET", "/v1/connections?user=alice", nil)
	if n := len(res["connections"].([]any)); n != 1 {
		t.Fatalf("%d connections after two sign-ins", n)
	}
	if st, res := invokeMe(s, id, "alice"); st != 200 {
		t.Fatalf("invoke: %d %v", st, res)
	}
}
