package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/secrets"
)

// Values that must never appear in an error string.
const (
	testCode         = "CODE-5f1d2c9e-never-leak"
	testSecret       = "SECRET-9a8b7c6d-never-leak"
	testVerifier     = "dBjftJeZ4CVP-mJ92K9qZBQJ4v7UpyRGVNmRTvZ1Eqw"
	testAccessToken  = "AT-0c1d2e3f-never-leak"
	testRefreshToken = "RT-4a5b6c7d-never-leak"
	testRedirect     = "https://gw.example/oauth/callback"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// recorded is one request as the provider saw it.
type recorded struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// form parses the body as form-encoded, failing the test if it is not.
func (r recorded) form(t *testing.T) url.Values {
	t.Helper()
	v, err := url.ParseQuery(string(r.Body))
	if err != nil {
		t.Fatalf("body %q is not form-encoded: %v", r.Body, err)
	}
	return v
}

// provider is an httptest token endpoint answering a fixed response and
// recording every request.
type provider struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
}

type answer struct {
	status int
	ctype  string
	body   string
}

func newProvider(t *testing.T, a answer) *provider {
	return newProviderFunc(t, func(w http.ResponseWriter, _ *http.Request) {
		if a.ctype != "" {
			w.Header().Set("Content-Type", a.ctype)
		}
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	})
}

func newProviderFunc(t *testing.T, h http.HandlerFunc) *provider {
	t.Helper()
	p := &provider{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.requests = append(p.requests, recorded{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		p.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *provider) only(t *testing.T) recorded {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.requests) != 1 {
		t.Fatalf("provider got %d requests, want exactly 1", len(p.requests))
	}
	return p.requests[0]
}

func (p *provider) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.requests)
}

func jsonAnswer(body string) answer {
	return answer{status: 200, ctype: "application/json", body: body}
}

func (p *provider) config() *Config {
	return &Config{
		ClientID:         "client-1",
		ClientSecret:     secrets.New(testSecret),
		AuthorizationURL: p.URL + "/authorize",
		TokenURL:         p.URL + "/token",
		RevocationURL:    p.URL + "/revoke",
		Scope:            "read write",
		PKCE:             true,
	}
}

func (p *provider) client() *Client {
	return &Client{HTTP: p.Client(), Now: func() time.Time { return t0 }}
}

func exchange(t *testing.T, p *provider, cfg *Config) (*Token, error) {
	t.Helper()
	return p.client().Exchange(context.Background(), cfg, testCode, testRedirect, testVerifier)
}

func mustExchange(t *testing.T, p *provider, cfg *Config) *Token {
	t.Helper()
	tok, err := exchange(t, p, cfg)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return tok
}

// assertNoSecrets fails if err's message holds any credential of the test.
func assertNoSecrets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, s := range []string{testCode, testSecret, testVerifier, testAccessToken, testRefreshToken} {
		if strings.Contains(msg, s) {
			t.Errorf("error %q reveals %q", msg, s)
		}
	}
}

func wantValues(t *testing.T, got, want url.Values) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("form fields:\n got %v\nwant %v", got, want)
	}
}

func wantHeader(t *testing.T, h http.Header, name, want string) {
	t.Helper()
	if got := h.Values(name); len(got) != 1 || got[0] != want {
		t.Errorf("header %s = %q, want exactly %q", name, got, want)
	}
}

// Q01: form-encoded request with Accept: application/json; a form-encoded
// answer (GitHub classic) is read too.
func TestExchangeQ01FormBodyAndAccept(t *testing.T) {
	p := newProvider(t, answer{200, "application/x-www-form-urlencoded; charset=utf-8",
		"access_token=" + testAccessToken + "&scope=repo%2Cgist&token_type=bearer"})
	tok := mustExchange(t, p, p.config())

	req := p.only(t)
	if req.Method != http.MethodPost || req.Path != "/token" {
		t.Errorf("request %s %s, want POST /token", req.Method, req.Path)
	}
	wantHeader(t, req.Header, "Accept", "application/json")
	wantHeader(t, req.Header, "Content-Type", "application/x-www-form-urlencoded")
	wantHeader(t, req.Header, "User-Agent", DefaultUserAgent)
	if h := req.Header.Get("Authorization"); h != "" {
		t.Errorf("post method sent Authorization %q", h)
	}
	wantValues(t, req.form(t), url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {testCode},
		"redirect_uri":  {testRedirect},
		"code_verifier": {testVerifier},
		"client_id":     {"client-1"},
		"client_secret": {testSecret},
	})

	if tok.AccessToken.Reveal() != testAccessToken {
		t.Errorf("access token %q", tok.AccessToken.Reveal())
	}
	if tok.TokenType != "Bearer" || tok.Scope != "repo gist" || !tok.RefreshToken.IsZero() || !tok.ExpiresAt.IsZero() {
		t.Errorf("token = %+v", tok)
	}
}

// Q01: the body is read by its shape, whatever the Content-Type claims.
func TestParseQ01ContentTypeMismatch(t *testing.T) {
	for _, a := range []answer{
		{200, "text/plain", "access_token=" + testAccessToken + "&token_type=bearer"},
		{200, "", "access_token=" + testAccessToken},
		{200, "text/html", `{"access_token":"` + testAccessToken + `"}`},
		{200, "application/x-www-form-urlencoded", ` {"access_token":"` + testAccessToken + `"}`},
	} {
		p := newProvider(t, a)
		tok := mustExchange(t, p, p.config())
		if tok.AccessToken.Reveal() != testAccessToken {
			t.Errorf("%+v: access token %q", a, tok.AccessToken.Reveal())
		}
	}
}

// Q02: an error in a 200 answer is a failure.
func TestExchangeQ02ErrorWith200(t *testing.T) {
	for _, tc := range []struct {
		body         string
		code         string
		invalidGrant bool
		transient    bool
	}{
		{`{"ok":false,"error":"invalid_code"}`, "invalid_code", false, false},
		{`{"ok":false}`, "", false, false},
		{`{"error":"invalid_grant","error_description":"code expired","access_token":"` + testAccessToken + `"}`, "invalid_grant", true, false},
		{`{"error":"temporarily_unavailable"}`, "temporarily_unavailable", false, true},
	} {
		p := newProvider(t, jsonAnswer(tc.body))
		tok, err := exchange(t, p, p.config())
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: got %v, %v; want *Error", tc.body, tok, err)
		}
		if e.Code != tc.code || e.StatusCode != 200 || e.Transient != tc.transient {
			t.Errorf("%s: error = %+v", tc.body, e)
		}
		if IsInvalidGrant(err) != tc.invalidGrant || IsTransient(err) != tc.transient {
			t.Errorf("%s: IsInvalidGrant %v, IsTransient %v", tc.body, IsInvalidGrant(err), IsTransient(err))
		}
		assertNoSecrets(t, err)
	}
}

// Q03: tokens nested in the answer (Slack user tokens).
func TestExchangeQ03NestedPaths(t *testing.T) {
	p := newProvider(t, jsonAnswer(`{"ok":true,"app_id":"A1","authed_user":{"id":"U1",
		"scope":"chat:write,channels:read","access_token":"`+testAccessToken+`","token_type":"user",
		"refresh_token":"`+testRefreshToken+`","expires_in":43200},"team":{"id":"T1"}}`))
	cfg := p.config()
	cfg.TokenPaths = TokenPaths{
		AccessToken:  "authed_user.access_token",
		RefreshToken: "authed_user.refresh_token",
		ExpiresIn:    "authed_user.expires_in",
		Scope:        "authed_user.scope",
	}
	tok := mustExchange(t, p, cfg)
	want := Token{
		AccessToken:  tok.AccessToken,
		RefreshToken: tok.RefreshToken,
		TokenType:    "Bearer",
		Scope:        "chat:write channels:read",
		ExpiresAt:    t0.Add(43200 * time.Second),
	}
	if *tok != want || tok.AccessToken.Reveal() != testAccessToken || tok.RefreshToken.Reveal() != testRefreshToken {
		t.Errorf("token = %+v (at %q rt %q)", tok, tok.AccessToken.Reveal(), tok.RefreshToken.Reveal())
	}

	// Without the paths there is no access token.
	_, err := exchange(t, p, p.config())
	if !errors.Is(err, ErrInvalidResponse) {
		t.Errorf("default paths: err = %v, want ErrInvalidResponse", err)
	}
	assertNoSecrets(t, err)
}

// Q04–Q06 and Q14: every expires_in form; the expiry counts from when the
// request was sent, not when the answer arrived.
func TestExchangeExpiresIn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		field string // JSON text of expires_in, "" for absent
		want  time.Duration
	}{
		{"Q04 number", `3599`, 3599 * time.Second},
		{"Q04 string", `"3599"`, 3599 * time.Second},
		{"Q04 float", `3599.0`, 3599 * time.Second},
		{"Q04 float string", `"3599.5"`, 3599500 * time.Millisecond},
		{"Q04 padded string", `" 60 "`, 60 * time.Second},
		{"Q05 null", `null`, 0},
		{"Q05 empty string", `""`, 0},
		{"Q05 absent", ``, 0},
		{"Q06 zero", `0`, 0},
		{"Q06 zero string", `"0"`, 0},
		{"negative", `-10`, 0},
		{"garbage", `"soon"`, 0},
		{"bool", `true`, 0},
		{"object", `{}`, 0},
		{"absurd", `1e300`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"access_token":"` + testAccessToken + `"`
			if tc.field != "" {
				body += `,"expires_in":` + tc.field
			}
			body += "}"

			var mu sync.Mutex
			now := t0
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			p := newProviderFunc(t, func(w http.ResponseWriter, _ *http.Request) {
				mu.Lock()
				now = now.Add(30 * time.Second) // the provider is slow
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, body)
			})
			c := &Client{HTTP: p.Client(), Now: clock}
			tok, err := c.Exchange(context.Background(), p.config(), testCode, testRedirect, testVerifier)
			if err != nil {
				t.Fatal(err)
			}
			var want time.Time
			if tc.want != 0 {
				want = t0.Add(tc.want)
			}
			if !tok.ExpiresAt.Equal(want) {
				t.Errorf("ExpiresAt = %v, want %v", tok.ExpiresAt, want)
			}
		})
	}
}

// Q07: bearer in any case, or none, is Bearer; other types are refused.
func TestExchangeQ07TokenType(t *testing.T) {
	for _, tt := range []string{`"bearer"`, `"BEARER"`, `"Bearer"`, `""`, `null`, `"bot"`} {
		p := newProvider(t, jsonAnswer(`{"access_token":"`+testAccessToken+`","token_type":`+tt+`}`))
		tok, err := exchange(t, p, p.config())
		if err != nil || tok.TokenType != "Bearer" {
			t.Errorf("token_type %s: %+v, %v", tt, tok, err)
		}
	}
	for _, tt := range []string{"mac", "DPoP", "N_A"} {
		p := newProvider(t, jsonAnswer(`{"access_token":"`+testAccessToken+`","token_type":"`+tt+`"}`))
		tok, err := exchange(t, p, p.config())
		if !errors.Is(err, ErrUnsupportedTokenType) || tok != nil {
			t.Errorf("token_type %s: %v, %v; want ErrUnsupportedTokenType", tt, tok, err)
			continue
		}
		if !strings.Contains(err.Error(), tt) {
			t.Errorf("error %q does not name the type %q", err, tt)
		}
		if IsTransient(err) || IsInvalidGrant(err) {
			t.Errorf("%s: classified transient/invalid_grant", tt)
		}
		assertNoSecrets(t, err)
	}
}

// Q15, Q16, Q17: Basic with RFC 6749 §2.3.1 encoding, nothing in the body,
// and the configured User-Agent.
func TestExchangeBasicQ15Q16Q17(t *testing.T) {
	p := newProvider(t, jsonAnswer(`{"access_token":"`+testAccessToken+`","token_type":"bearer"}`))
	cfg := p.config()
	cfg.ClientID = "1PpG/Q 1"
	cfg.ClientSecret = secrets.New("z/tZ9VwFZqApmIQ+ZH1I5pLk/uB4ud:X2/8bL+wfFTt1rFw=")
	cfg.ExchangeMethod = ExchangeMethodBasic
	c := p.client()
	c.UserAgent = "actiongate-test/1.0 (by /u/actiongate)"
	if _, err := c.Exchange(context.Background(), cfg, testCode, testRedirect, testVerifier); err != nil {
		t.Fatal(err)
	}
	req := p.only(t)
	wantHeader(t, req.Header, "Authorization",
		"Basic MVBwRyUyRlErMTp6JTJGdFo5VndGWnFBcG1JUSUyQlpIMUk1cExrJTJGdUI0dWQlM0FYMiUyRjhiTCUyQndmRlR0MXJGdyUzRA==")
	wantHeader(t, req.Header, "User-Agent", "actiongate-test/1.0 (by /u/actiongate)")
	wantHeader(t, req.Header, "Accept", "application/json")
	wantValues(t, req.form(t), url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {testCode},
		"redirect_uri":  {testRedirect},
		"code_verifier": {testVerifier},
	})
}

// Q18: one attempt, whatever the answer; never a retry with the other
// client authentication.
func TestExchangeQ18OneAttempt(t *testing.T) {
	for _, method := range []string{ExchangeMethodBasic, ExchangeMethodPost} {
		p := newProvider(t, answer{401, "application/json",
			`{"error":"invalid_client","error_description":"Client authentication failed for ` + testSecret + `"}`})
		cfg := p.config()
		cfg.ExchangeMethod = method
		_, err := exchange(t, p, cfg)
		p.only(t)
		var e *Error
		if !errors.As(err, &e) || e.Code != "invalid_client" || e.StatusCode != 401 {
			t.Errorf("%s: err = %v", method, err)
		}
		if IsInvalidGrant(err) || IsTransient(err) {
			t.Errorf("%s: invalid_client classified as invalid_grant or transient", method)
		}
		assertNoSecrets(t, err)
	}
}

// Q19: a JSON request body when configured (form otherwise: Q01).
func TestExchangeQ19JSONBody(t *testing.T) {
	for _, method := range []string{ExchangeMethodPost, ExchangeMethodBasic} {
		p := newProvider(t, jsonAnswer(`{"access_token":"`+testAccessToken+`"}`))
		cfg := p.config()
		cfg.ContentType = ContentTypeJSON
		cfg.ExchangeMethod = method
		mustExchange(t, p, cfg)
		req := p.only(t)
		wantHeader(t, req.Header, "Content-Type", "application/json")
		wantHeader(t, req.Header, "Accept", "application/json")
		var got map[string]any
		if err := json.Unmarshal(req.Body, &got); err != nil {
			t.Fatalf("body %q is not JSON: %v", req.Body, err)
		}
		want := map[string]any{
			"grant_type":    "authorization_code",
			"code":          testCode,
			"redirect_uri":  testRedirect,
			"code_verifier": testVerifier,
		}
		if method == ExchangeMethodPost {
			want["client_id"] = "client-1"
			want["client_secret"] = testSecret
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: JSON body %v, want %v", method, got, want)
		}
	}
}

// Q20: granted scopes with commas are normalised; no scope in the answer
// means the requested scope was granted.
func TestExchangeQ20Scope(t *testing.T) {
	for _, tc := range []struct{ requested, body, want string }{
		{"repo gist", `{"access_token":"x","scope":"repo,gist"}`, "repo gist"},
		{"repo gist", `{"access_token":"x","scope":"repo, gist  repo"}`, "repo gist"},
		{"repo gist", `{"access_token":"x","scope":["a","b"]}`, "a b"},
		{"read,write", `{"access_token":"x"}`, "read write"},
		{"read write", `{"access_token":"x","scope":""}`, "read write"},
		{"", `{"access_token":"x"}`, ""},
	} {
		p := newProvider(t, jsonAnswer(tc.body))
		cfg := p.config()
		cfg.Scope = tc.requested
		if tok := mustExchange(t, p, cfg); tok.Scope != tc.want {
			t.Errorf("requested %q, answer %s: Scope = %q, want %q", tc.requested, tc.body, tok.Scope, tc.want)
		}
	}
}

func authQuery(t *testing.T, cfg *Config, verifier string) url.Values {
	t.Helper()
	u, err := url.Parse(cfg.AuthCodeURL(testRedirect, "state-1234567890", verifier))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestAuthCodeURL(t *testing.T) {
	cfg := &Config{
		ClientID:         "client 1",
		AuthorizationURL: "https://provider.example/oauth/authorize?tenant=t1",
		Scope:            "repo,gist", // Q20: sent as configured
		PKCE:             true,
		AuthorizationParams: map[string]string{
			"access_type": "offline",
			"prompt":      "consent",
			"state":       "attacker", // reserved: ignored
			"client_id":   "other",    // reserved: ignored
		},
	}
	raw := cfg.AuthCodeURL(testRedirect, "state-1234567890", testVerifier)
	if !strings.HasPrefix(raw, "https://provider.example/oauth/authorize?") {
		t.Errorf("URL %q does not start with the authorization URL", raw)
	}
	wantValues(t, authQuery(t, cfg, testVerifier), url.Values{
		"tenant":                {"t1"},
		"response_type":         {"code"},
		"client_id":             {"client 1"},
		"redirect_uri":          {testRedirect},
		"scope":                 {"repo,gist"},
		"state":                 {"state-1234567890"},
		"code_challenge":        {"pBAwucJcMmmURnp7WR60qukX0628r2VXbUgfa6En8AA"},
		"code_challenge_method": {"S256"},
		"access_type":           {"offline"},
		"prompt":                {"consent"},
	})
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `"client_id"`) || !strings.Contains(err.Error(), `"state"`) {
		t.Errorf("Validate = %v, want the reserved parameters reported", err)
	}
}

// Q21: no scope parameter at all when no scope is configured.
func TestAuthCodeURLQ21NoEmptyScope(t *testing.T) {
	q := authQuery(t, &Config{ClientID: "c", AuthorizationURL: "https://p.example/auth"}, "")
	if _, ok := q["scope"]; ok {
		t.Errorf("scope sent: %v", q)
	}
}

// Q24: the RFC 7636 appendix B vector; PKCE off sends neither parameter.
func TestAuthCodeURLQ24PKCE(t *testing.T) {
	cfg := &Config{ClientID: "c", AuthorizationURL: "https://p.example/auth", PKCE: true}
	q := authQuery(t, cfg, "dBjftJeZ4CVP-mJ92K9qZBQJ4v7UpyRGVNmRTvZ1Eqw")
	if q.Get("code_challenge") != "pBAwucJcMmmURnp7WR60qukX0628r2VXbUgfa6En8AA" || q.Get("code_challenge_method") != "S256" {
		t.Errorf("PKCE on: %v", q)
	}
	cfg.PKCE = false
	q = authQuery(t, cfg, "dBjftJeZ4CVP-mJ92K9qZBQJ4v7UpyRGVNmRTvZ1Eqw")
	if q.Has("code_challenge") || q.Has("code_challenge_method") {
		t.Errorf("PKCE off: %v", q)
	}
}

// Q24: no silent downgrade at exchange; no verifier sent when PKCE is off.
func TestExchangePKCE(t *testing.T) {
	p := newProvider(t, jsonAnswer(`{"access_token":"x"}`))
	cfg := p.config()
	if _, err := p.client().Exchange(context.Background(), cfg, testCode, testRedirect, ""); err == nil {
		t.Error("PKCE on without verifier: no error")
	}
	if n := p.count(); n != 0 {
		t.Fatalf("PKCE on without verifier sent %d requests", n)
	}
	cfg.PKCE = false
	mustExchange(t, p, cfg)
	if f := p.only(t).form(t); f.Has("code_verifier") {
		t.Errorf("PKCE off sent code_verifier: %v", f)
	}
}

func TestGenerateVerifier(t *testing.T) {
	a, b := GenerateVerifier(), GenerateVerifier()
	if len(a) != 43 || a == b {
		t.Errorf("verifiers %q, %q", a, b)
	}
}

// Refresh: exact fields; Q08 (no refresh_token or scope in the answer);
// Q12 (scope resent when configured).
func TestRefresh(t *testing.T) {
	for _, tc := range []struct {
		name         string
		refreshScope bool
		granted      string
		body         string
		wantScope    string
		wantRT       string
		wantField    string // scope field sent, "" for none
	}{
		{"Q08 no refresh token, no scope", false, "read write", `{"access_token":"` + testAccessToken + `","expires_in":3600}`, "read write", "", ""},
		{"rotated", false, "read", `{"access_token":"a","refresh_token":"` + testRefreshToken + `2","scope":"read"}`, "read", testRefreshToken + "2", ""},
		{"Q12 scope resent", true, "openid offline_access Mail.Read", `{"access_token":"a"}`, "openid offline_access Mail.Read", "", "openid offline_access Mail.Read"},
		{"Q12 configured scope when none granted", true, "", `{"access_token":"a"}`, "read write", "", "read write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, jsonAnswer(tc.body))
			cfg := p.config()
			cfg.RefreshScope = tc.refreshScope
			tok, err := p.client().Refresh(context.Background(), cfg, secrets.New(testRefreshToken), tc.granted)
			if err != nil {
				t.Fatal(err)
			}
			want := url.Values{
				"grant_type":    {"refresh_token"},
				"refresh_token": {testRefreshToken},
				"client_id":     {"client-1"},
				"client_secret": {testSecret},
			}
			if tc.wantField != "" {
				want["scope"] = []string{tc.wantField}
			}
			req := p.only(t)
			wantHeader(t, req.Header, "Accept", "application/json")
			wantValues(t, req.form(t), want)
			if tok.Scope != tc.wantScope || tok.RefreshToken.Reveal() != tc.wantRT || tok.TokenType != "Bearer" {
				t.Errorf("token %+v (rt %q)", tok, tok.RefreshToken.Reveal())
			}
		})
	}
}

func TestRefreshBasic(t *testing.T) {
	p := newProvider(t, jsonAnswer(`{"access_token":"a"}`))
	cfg := p.config()
	cfg.ExchangeMethod = ExchangeMethodBasic
	if _, err := p.client().Refresh(context.Background(), cfg, secrets.New(testRefreshToken), "read"); err != nil {
		t.Fatal(err)
	}
	req := p.only(t)
	if !strings.HasPrefix(req.Header.Get("Authorization"), "Basic ") {
		t.Errorf("Authorization = %q", req.Header.Get("Authorization"))
	}
	wantValues(t, req.form(t), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {testRefreshToken}})
}

// Q13: terminal and transient failures are told apart; nothing leaks.
func TestErrorClassification(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		a                       answer
		code                    string
		invalidGrant, transient bool
	}{
		{"invalid_grant", answer{400, "application/json", `{"error":"invalid_grant","error_description":"refresh token ` + testRefreshToken + ` revoked"}`}, "invalid_grant", true, false},
		{"invalid_grant form", answer{400, "application/x-www-form-urlencoded", `error=invalid_grant&error_description=bad+` + url.QueryEscape(testRefreshToken)}, "invalid_grant", true, false},
		{"invalid_client 401", answer{401, "application/json", `{"error":"invalid_client"}`}, "invalid_client", false, false},
		{"unsupported_grant_type", answer{400, "application/json", `{"error":"unsupported_grant_type"}`}, "unsupported_grant_type", false, false},
		{"500 html", answer{500, "text/html", `<html>oops ` + testRefreshToken + `</html>`}, "", false, true},
		{"502 empty", answer{502, "", ``}, "", false, true},
		{"503 server_error", answer{503, "application/json", `{"error":"server_error"}`}, "server_error", false, true},
		{"429", answer{429, "application/json", `{"error":"slow_down"}`}, "slow_down", false, true},
		{"400 temporarily_unavailable", answer{400, "application/json", `{"error":"temporarily_unavailable"}`}, "temporarily_unavailable", false, true},
		{"Microsoft nested error object", answer{400, "application/json", `{"error":{"code":"x","message":"` + testRefreshToken + `"}}`}, "", false, false},
		{"code with bad characters", answer{400, "application/json", `{"error":"bad\"code\n"}`}, "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, tc.a)
			_, err := p.client().Refresh(context.Background(), p.config(), secrets.New(testRefreshToken), "")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Code != tc.code || e.StatusCode != tc.a.status {
				t.Errorf("error = %+v", e)
			}
			if IsInvalidGrant(err) != tc.invalidGrant || IsTransient(err) != tc.transient {
				t.Errorf("IsInvalidGrant %v, IsTransient %v", IsInvalidGrant(err), IsTransient(err))
			}
			if !strings.HasPrefix(err.Error(), "oauth: refresh: ") {
				t.Errorf("error %q lacks the operation", err)
			}
			assertNoSecrets(t, err)
		})
	}
}

func TestErrorDescriptionSanitised(t *testing.T) {
	desc := "bad code " + testCode + " / " + url.QueryEscape(testSecret) + "\x00\n\t" + strings.Repeat("é", 500)
	body, _ := json.Marshal(map[string]string{"error": "invalid_grant", "error_description": desc})
	p := newProvider(t, answer{400, "application/json", string(body)})
	_, err := exchange(t, p, p.config())
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v", err)
	}
	assertNoSecrets(t, err)
	if !strings.HasPrefix(e.Description, "bad code [redacted] / [redacted] é") {
		t.Errorf("Description = %q", e.Description)
	}
	if n := len([]rune(e.Description)); n > maxDescriptionLen+1 {
		t.Errorf("Description has %d runes", n)
	}
	if strings.ContainsAny(e.Description, "\x00\n\t") {
		t.Errorf("Description has control characters: %q", e.Description)
	}
}

func TestTransportErrors(t *testing.T) {
	p := newProviderFunc(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	cfg := p.config()

	// Timeout: transient.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.client().Refresh(ctx, cfg, secrets.New(testRefreshToken), "")
	if err == nil || !IsTransient(err) || IsInvalidGrant(err) {
		t.Errorf("timeout: err = %v, transient %v", err, IsTransient(err))
	}
	assertNoSecrets(t, err)

	// Cancelled by the caller: not transient.
	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err = p.client().Refresh(ctx, cfg, secrets.New(testRefreshToken), "")
	if err == nil || IsTransient(err) {
		t.Errorf("cancelled: err = %v, transient %v", err, IsTransient(err))
	}

	// Connection refused: transient.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cfg.TokenURL = closed.URL + "/token"
	_, err = p.client().Exchange(context.Background(), cfg, testCode, testRedirect, testVerifier)
	if err == nil || !IsTransient(err) {
		t.Errorf("refused: err = %v, transient %v", err, IsTransient(err))
	}
	assertNoSecrets(t, err)
}

type permanent struct{}

func (permanent) Error() string   { return "destination blocked" }
func (permanent) Transient() bool { return false }

// A transport error that says it is permanent (a blocked destination) is
// not transient.
func TestTransportErrorSaysPermanent(t *testing.T) {
	p := newProvider(t, jsonAnswer(`{}`))
	c := &Client{HTTP: &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, permanent{}
	})}}
	_, err := c.Exchange(context.Background(), p.config(), testCode, testRedirect, testVerifier)
	if err == nil || IsTransient(err) {
		t.Errorf("err = %v, transient %v", err, IsTransient(err))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestInvalidResponses(t *testing.T) {
	for _, a := range []answer{
		{200, "application/json", `{"token_type":"bearer"}`},
		{200, "application/json", `{"access_token":""}`},
		{200, "application/json", `{"access_token":{"v":"` + testAccessToken + `"}}`},
		{200, "application/json", `{"access_token":"` + testAccessToken},
		{200, "application/json", `[]`},
		{200, "application/json", ``},
		{200, "text/html", `<html><body>` + testAccessToken + `</body></html>`},
		{200, "application/json", `{"access_token":"` + strings.Repeat("a", maxResponseSize) + `"}`},
	} {
		p := newProvider(t, a)
		tok, err := exchange(t, p, p.config())
		if !errors.Is(err, ErrInvalidResponse) || tok != nil {
			name := a.body
			if len(name) > 60 {
				name = name[:60]
			}
			t.Errorf("%q: %v, %v; want ErrInvalidResponse", name, tok, err)
		}
		if IsTransient(err) || IsInvalidGrant(err) {
			t.Errorf("invalid response classified transient/invalid_grant: %v", err)
		}
		assertNoSecrets(t, err)
	}
}

// A token endpoint that redirects does not get the credentials resent.
func TestNoRedirects(t *testing.T) {
	other := newProvider(t, jsonAnswer(`{"access_token":"x"}`))
	p := newProviderFunc(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/token", http.StatusTemporaryRedirect)
	})
	_, err := exchange(t, p, p.config())
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("err = %v", err)
	}
	if other.count() != 0 {
		t.Error("redirect followed")
	}
}

func TestMisconfiguration(t *testing.T) {
	p := newProvider(t, jsonAnswer(`{"access_token":"x"}`))
	for name, mutate := range map[string]func(*Config, *Client){
		"unknown method":       func(c *Config, _ *Client) { c.ExchangeMethod = "client_secret_jwt" },
		"unknown content type": func(c *Config, _ *Client) { c.ContentType = "text/plain" },
		"no token URL":         func(c *Config, _ *Client) { c.TokenURL = "" },
		"no HTTP client":       func(_ *Config, c *Client) { c.HTTP = nil },
	} {
		cfg, c := p.config(), p.client()
		mutate(cfg, c)
		if _, err := c.Exchange(context.Background(), cfg, testCode, testRedirect, testVerifier); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			assertNoSecrets(t, err)
		}
	}
	if _, err := p.client().Exchange(context.Background(), p.config(), "", testRedirect, testVerifier); err == nil {
		t.Error("empty code: no error")
	}
	if _, err := p.client().Refresh(context.Background(), p.config(), secrets.Secret{}, ""); err == nil {
		t.Error("zero refresh token: no error")
	}
	if n := p.count(); n != 0 {
		t.Errorf("misconfigured calls sent %d requests", n)
	}
}

func TestValidate(t *testing.T) {
	ok := &Config{ClientID: "c", AuthorizationURL: "https://p.example/a", TokenURL: "https://p.example/t"}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	bad := &Config{
		AuthorizationURL: "/relative",
		RevocationURL:    "ftp://p.example/r",
		ExchangeMethod:   "auto",
		ContentType:      "text/xml",
	}
	err := bad.Validate()
	for _, want := range []string{"client_id", "authorization_url", "token_url", "revocation_url", "token_exchange_method", "authorization_content_type"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want %s reported", err, want)
		}
	}
}

func TestRevoke(t *testing.T) {
	for _, method := range []string{ExchangeMethodPost, ExchangeMethodBasic} {
		p := newProvider(t, answer{200, "", ""})
		cfg := p.config()
		cfg.ExchangeMethod = method
		if err := p.client().Revoke(context.Background(), cfg, secrets.New(testRefreshToken), HintRefreshToken); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		req := p.only(t)
		if req.Path != "/revoke" {
			t.Errorf("path %q", req.Path)
		}
		wantHeader(t, req.Header, "Accept", "application/json")
		wantHeader(t, req.Header, "User-Agent", DefaultUserAgent)
		want := url.Values{"token": {testRefreshToken}, "token_type_hint": {"refresh_token"}}
		if method == ExchangeMethodPost {
			want["client_id"] = []string{"client-1"}
			want["client_secret"] = []string{testSecret}
		} else if !strings.HasPrefix(req.Header.Get("Authorization"), "Basic ") {
			t.Errorf("basic: Authorization %q", req.Header.Get("Authorization"))
		}
		wantValues(t, req.form(t), want)
	}

	// RFC 7009 §2.2.1: 503 means try later.
	p := newProvider(t, answer{503, "application/json", `{"error":"temporarily_unavailable"}`})
	err := p.client().Revoke(context.Background(), p.config(), secrets.New(testAccessToken), "")
	if !IsTransient(err) {
		t.Errorf("503: err = %v, transient %v", err, IsTransient(err))
	}
	assertNoSecrets(t, err)
	if f := p.only(t).form(t); f.Has("token_type_hint") {
		t.Errorf("empty hint sent: %v", f)
	}

	p = newProvider(t, answer{400, "application/json", `{"error":"unsupported_token_type"}`})
	err = p.client().Revoke(context.Background(), p.config(), secrets.New(testAccessToken), HintAccessToken)
	var e *Error
	if !errors.As(err, &e) || e.Code != "unsupported_token_type" || IsTransient(err) {
		t.Errorf("400: err = %v", err)
	}

	cfg := p.config()
	cfg.RevocationURL = ""
	if err := p.client().Revoke(context.Background(), cfg, secrets.New(testAccessToken), ""); !errors.Is(err, ErrNoRevocationURL) {
		t.Errorf("no URL: err = %v", err)
	}
}

// Secrets print redacted wherever a Token ends up.
func TestTokenNeverPrintsSecrets(t *testing.T) {
	p := newProvider(t, jsonAnswer(`{"access_token":"`+testAccessToken+`","refresh_token":"`+testRefreshToken+`"}`))
	tok := mustExchange(t, p, p.config())
	js, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{string(js), fmtAll(tok)} {
		if strings.Contains(s, testAccessToken) || strings.Contains(s, testRefreshToken) {
			t.Errorf("token printed as %s", s)
		}
	}
}

func fmtAll(v any) string {
	return fmt.Sprintf("%v %+v %#v %s %q", v, v, v, v, v)
}
