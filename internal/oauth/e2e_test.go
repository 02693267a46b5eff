package oauth_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/oauth"
	"github.com/actiongate/actiongate/internal/oauth/oauthtest"
	"github.com/actiongate/actiongate/internal/secrets"
)

const e2eRedirect = "http://127.0.0.1:8080/oauth/callback"

func newState(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signIn runs the browser part against srv and returns the code.
func signIn(t *testing.T, srv *oauthtest.Server, cfg *oauth.Config, verifier string) string {
	t.Helper()
	state := newState(t)
	loc, err := srv.Authorize(context.Background(), cfg.AuthCodeURL(e2eRedirect, state, verifier))
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	q := loc.Query()
	if q.Get("error") != "" {
		t.Fatalf("authorize: error=%s: %s", q.Get("error"), q.Get("error_description"))
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != e2eRedirect {
		t.Errorf("redirected to %s, want %s", got, e2eRedirect)
	}
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("callback query %v: want the state and a code", q)
	}
	return q.Get("code")
}

// me calls the protected API; it returns the status and the claims.
func me(t *testing.T, srv *oauthtest.Server, tok *oauth.Token) (int, map[string]string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.APIURL(), nil)
	req.Header.Set("Authorization", tok.TokenType+" "+tok.AccessToken.Reveal())
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var claims map[string]string
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&claims); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, claims
}

func wantMe(t *testing.T, srv *oauthtest.Server, tok *oauth.Token, sub string) {
	t.Helper()
	status, claims := me(t, srv, tok)
	if status != http.StatusOK || claims["sub"] != sub || claims["scope"] != "read write" {
		t.Errorf("/api/me: %d %v, want 200 for %s with scope \"read write\"", status, claims, sub)
	}
}

func wantRejected(t *testing.T, srv *oauthtest.Server, tok *oauth.Token, what string) {
	t.Helper()
	if status, _ := me(t, srv, tok); status != http.StatusUnauthorized {
		t.Errorf("/api/me with %s: %d, want 401", what, status)
	}
}

// TestEndToEnd signs in, calls the API, refreshes and revokes against a real
// authorization server (fosite), with PKCE on and off and both client
// authentication methods. The basic client uses the RFC 6749 §2.3.1 vector
// of Q17, which fosite decodes as the RFC says.
func TestEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pkce   bool
		method string
	}{
		{"pkce basic", true, oauth.ExchangeMethodBasic},
		{"pkce post", true, oauth.ExchangeMethodPost},
		{"no pkce basic", false, oauth.ExchangeMethodBasic},
		{"no pkce post", false, oauth.ExchangeMethodPost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			id, secret, authMethod := "client-post", "s3cret-post-value", oauthtest.AuthMethodPost
			if tc.method == oauth.ExchangeMethodBasic {
				id, secret, authMethod = "1PpG/Q 1", "z/tZ9VwFZqApmIQ+ZH1I5pLk/uB4ud:X2/8bL+wfFTt1rFw=", oauthtest.AuthMethodBasic
			}
			srv := oauthtest.NewServer(t, oauthtest.Options{
				EnforcePKCE:         tc.pkce,
				AccessTokenLifespan: time.Hour,
				Clients: []oauthtest.Client{{
					ID: id, Secret: secret, AuthMethod: authMethod,
					RedirectURIs: []string{e2eRedirect},
					Scopes:       []string{"read", "write"},
				}},
			})
			srv.SetUser("alice")
			cfg := &oauth.Config{
				ClientID:         id,
				ClientSecret:     secrets.New(secret),
				AuthorizationURL: srv.AuthorizationURL(),
				TokenURL:         srv.TokenURL(),
				RevocationURL:    srv.RevocationURL(),
				Scope:            "read write",
				ExchangeMethod:   tc.method,
				PKCE:             tc.pkce,
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			client := &oauth.Client{HTTP: srv.HTTPClient(), UserAgent: "actiongate-e2e/1"}

			// Sign in.
			verifier := oauth.GenerateVerifier()
			code := signIn(t, srv, cfg, verifier)
			before := time.Now()
			tok, err := client.Exchange(ctx, cfg, code, e2eRedirect, verifier)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if tok.TokenType != "Bearer" || tok.Scope != "read write" || tok.RefreshToken.IsZero() {
				t.Errorf("token %+v: want Bearer, scope \"read write\", a refresh token", tok)
			}
			if d := tok.ExpiresAt.Sub(before); d < time.Hour-5*time.Second || d > time.Hour+5*time.Second {
				t.Errorf("ExpiresAt %v is %v from now, want about 1h", tok.ExpiresAt, d)
			}
			wantMe(t, srv, tok, "alice")

			// Client authentication exactly as configured.
			sent := srv.TokenRequestLog()[0]
			_, hasBasic := sent.Header["Authorization"]
			inBody := sent.Form.Has("client_id") || sent.Form.Has("client_secret")
			if hasBasic == inBody || hasBasic != (tc.method == oauth.ExchangeMethodBasic) {
				t.Errorf("%s: Authorization header %v, credentials in body %v", tc.method, hasBasic, inBody)
			}
			if sent.Header.Get("User-Agent") != "actiongate-e2e/1" || sent.Header.Get("Accept") != "application/json" {
				t.Errorf("headers %v", sent.Header)
			}
			if sent.Form.Has("code_verifier") != tc.pkce {
				t.Errorf("code_verifier sent: %v, PKCE %v", sent.Form.Has("code_verifier"), tc.pkce)
			}

			// A code works once.
			if _, err := client.Exchange(ctx, cfg, code, e2eRedirect, verifier); !oauth.IsInvalidGrant(err) {
				t.Errorf("code replay: err = %v, want invalid_grant", err)
			}

			// A fresh sign-in for the refresh part (the replay above made
			// fosite revoke the first sign-in's tokens).
			verifier = oauth.GenerateVerifier()
			tok, err = client.Exchange(ctx, cfg, signIn(t, srv, cfg, verifier), e2eRedirect, verifier)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}

			// Refresh twice: each uses the previous answer's refresh token.
			tok2, err := client.Refresh(ctx, cfg, tok.RefreshToken, tok.Scope)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if tok2.RefreshToken.IsZero() || tok2.RefreshToken.Reveal() == tok.RefreshToken.Reveal() ||
				tok2.AccessToken.Reveal() == tok.AccessToken.Reveal() || tok2.Scope != "read write" {
				t.Errorf("refresh did not rotate: %+v", tok2)
			}
			wantMe(t, srv, tok2, "alice")
			wantRejected(t, srv, tok, "the access token replaced by refresh")

			tok3, err := client.Refresh(ctx, cfg, tok2.RefreshToken, tok2.Scope)
			if err != nil {
				t.Fatalf("second Refresh: %v", err)
			}
			wantMe(t, srv, tok3, "alice")
			presented := srv.PresentedRefreshTokens()
			if len(presented) != 2 || presented[0] != tok.RefreshToken.Reveal() || presented[1] != tok2.RefreshToken.Reveal() {
				t.Errorf("presented refresh tokens %d, want RT1 then RT2 (Q10)", len(presented))
			}
			if n := srv.RefreshTokenReuses(); n != 0 {
				t.Errorf("RefreshTokenReuses = %d, want 0", n)
			}

			// Reusing a rotated refresh token is detected and kills the
			// family, including the newest tokens (Q09).
			_, err = client.Refresh(ctx, cfg, tok.RefreshToken, tok.Scope)
			if !oauth.IsInvalidGrant(err) || oauth.IsTransient(err) {
				t.Errorf("reuse: err = %v, want invalid_grant", err)
			}
			if strings.Contains(err.Error(), tok.RefreshToken.Reveal()) || strings.Contains(err.Error(), secret) {
				t.Errorf("error %q reveals a credential", err)
			}
			if n := srv.RefreshTokenReuses(); n != 1 {
				t.Errorf("RefreshTokenReuses = %d, want 1", n)
			}
			wantRejected(t, srv, tok3, "the newest access token after reuse")
			if _, err := client.Refresh(ctx, cfg, tok3.RefreshToken, tok3.Scope); !oauth.IsInvalidGrant(err) {
				t.Errorf("newest refresh token after reuse: err = %v, want invalid_grant", err)
			}

			// Revocation (RFC 7009) with the same client authentication.
			verifier = oauth.GenerateVerifier()
			tok, err = client.Exchange(ctx, cfg, signIn(t, srv, cfg, verifier), e2eRedirect, verifier)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if err := client.Revoke(ctx, cfg, tok.AccessToken, oauth.HintAccessToken); err != nil {
				t.Fatalf("Revoke access token: %v", err)
			}
			wantRejected(t, srv, tok, "a revoked access token")
			if err := client.Revoke(ctx, cfg, tok.RefreshToken, oauth.HintRefreshToken); err != nil {
				t.Fatalf("Revoke refresh token: %v", err)
			}
			if _, err := client.Refresh(ctx, cfg, tok.RefreshToken, tok.Scope); !oauth.IsInvalidGrant(err) {
				t.Errorf("revoked refresh token: err = %v, want invalid_grant", err)
			}
			if n := srv.RevocationRequests(); n != 2 {
				t.Errorf("RevocationRequests = %d, want 2", n)
			}
		})
	}
}

// The server enforces what a compliant provider enforces.
func TestEndToEndRefusals(t *testing.T) {
	ctx := context.Background()
	srv := oauthtest.NewServer(t, oauthtest.Options{
		EnforcePKCE: true,
		Clients: []oauthtest.Client{{
			ID: "c1", Secret: "secret-value-1", AuthMethod: oauthtest.AuthMethodBasic,
			RedirectURIs: []string{e2eRedirect}, Scopes: []string{"read", "write"},
		}},
	})
	base := oauth.Config{
		ClientID: "c1", ClientSecret: secrets.New("secret-value-1"),
		AuthorizationURL: srv.AuthorizationURL(), TokenURL: srv.TokenURL(),
		Scope: "read write", ExchangeMethod: oauth.ExchangeMethodBasic, PKCE: true,
	}
	client := &oauth.Client{HTTP: srv.HTTPClient()}

	t.Run("wrong verifier", func(t *testing.T) {
		cfg := base
		code := signIn(t, srv, &cfg, oauth.GenerateVerifier())
		_, err := client.Exchange(ctx, &cfg, code, e2eRedirect, oauth.GenerateVerifier())
		if !oauth.IsInvalidGrant(err) {
			t.Errorf("err = %v, want invalid_grant", err)
		}
	})
	t.Run("PKCE required", func(t *testing.T) {
		cfg := base
		cfg.PKCE = false
		loc, err := srv.Authorize(ctx, cfg.AuthCodeURL(e2eRedirect, newState(t), ""))
		if err != nil {
			t.Fatal(err)
		}
		if loc.Query().Get("error") != "invalid_request" || loc.Query().Has("code") {
			t.Errorf("callback %v, want error=invalid_request", loc.Query())
		}
	})
	t.Run("post for a basic client", func(t *testing.T) {
		cfg := base
		cfg.ExchangeMethod = oauth.ExchangeMethodPost
		verifier := oauth.GenerateVerifier()
		code := signIn(t, srv, &cfg, verifier)
		n := srv.TokenRequests()
		_, err := client.Exchange(ctx, &cfg, code, e2eRedirect, verifier)
		var e *oauth.Error
		if !errors.As(err, &e) || e.Code != "invalid_client" {
			t.Errorf("err = %v, want invalid_client", err)
		}
		if got := srv.TokenRequests() - n; got != 1 {
			t.Errorf("%d token requests, want exactly 1 (Q18)", got)
		}
	})
	t.Run("JSON body", func(t *testing.T) {
		cfg := base
		cfg.ContentType = oauth.ContentTypeJSON
		verifier := oauth.GenerateVerifier()
		_, err := client.Exchange(ctx, &cfg, signIn(t, srv, &cfg, verifier), e2eRedirect, verifier)
		var e *oauth.Error
		if !errors.As(err, &e) || e.Code != "invalid_request" {
			t.Errorf("err = %v, want invalid_request", err)
		}
	})
	t.Run("scope not allowed", func(t *testing.T) {
		cfg := base
		cfg.Scope = "read admin"
		loc, err := srv.Authorize(ctx, cfg.AuthCodeURL(e2eRedirect, newState(t), oauth.GenerateVerifier()))
		if err != nil {
			t.Fatal(err)
		}
		if loc.Query().Get("error") != "invalid_scope" {
			t.Errorf("callback %v, want error=invalid_scope", loc.Query())
		}
	})
	t.Run("basic plus client_id in body", func(t *testing.T) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"c1"}}
		req, _ := http.NewRequest(http.MethodPost, srv.TokenURL(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("c1", "secret-value-1")
		resp, err := srv.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400 (Q16)", resp.StatusCode)
		}
	})
}

// Q09: two overlapping refreshes with the same refresh token give one
// success and one invalid_grant, and the server's reuse detection then
// revokes the winner's tokens too. This is why callers must run one refresh
// per connection at a time; the test pins the server behaviour they guard
// against.
func TestEndToEndConcurrentRefresh(t *testing.T) {
	ctx := context.Background()
	srv := oauthtest.NewServer(t, oauthtest.Options{Clients: []oauthtest.Client{{
		ID: "c1", Secret: "secret-value-1", AuthMethod: oauthtest.AuthMethodPost,
		RedirectURIs: []string{e2eRedirect}, Scopes: []string{"read", "write"},
	}}})
	cfg := &oauth.Config{
		ClientID: "c1", ClientSecret: secrets.New("secret-value-1"),
		AuthorizationURL: srv.AuthorizationURL(), TokenURL: srv.TokenURL(), Scope: "read write", PKCE: true,
	}
	client := &oauth.Client{HTTP: srv.HTTPClient()}
	verifier := oauth.GenerateVerifier()
	tok, err := client.Exchange(ctx, cfg, signIn(t, srv, cfg, verifier), e2eRedirect, verifier)
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		tok *oauth.Token
		err error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			tk, err := client.Refresh(ctx, cfg, tok.RefreshToken, tok.Scope)
			results <- result{tk, err}
		}()
	}
	var winner *oauth.Token
	grants := 0
	for range 2 {
		r := <-results
		switch {
		case r.err == nil:
			winner = r.tok
		case oauth.IsInvalidGrant(r.err):
			grants++
		default:
			t.Errorf("unexpected error %v", r.err)
		}
	}
	if winner == nil || grants != 1 {
		t.Fatalf("one success and one invalid_grant expected; got winner %v, %d invalid_grant", winner != nil, grants)
	}
	if n := srv.RefreshTokenReuses(); n != 1 {
		t.Errorf("RefreshTokenReuses = %d, want 1", n)
	}
	wantRejected(t, srv, winner, "the winner's access token after reuse")
}
