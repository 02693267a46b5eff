package oauthtest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/actiongate/actiongate/internal/oauth/oauthtest"
)

const redirect = "http://localhost/callback"

// The harness is a standard server: x/oauth2, an independent client, signs
// in, refreshes and calls the API against it.
func TestWithXOAuth2(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client oauthtest.Client
		style  oauth2.AuthStyle
	}{
		{"basic", oauthtest.Client{ID: "c/1 x", Secret: "s:e/c+r=t", AuthMethod: oauthtest.AuthMethodBasic}, oauth2.AuthStyleInHeader},
		{"post", oauthtest.Client{ID: "c2", Secret: "secret-2", AuthMethod: oauthtest.AuthMethodPost}, oauth2.AuthStyleInParams},
		{"public", oauthtest.Client{ID: "c3", Public: true}, oauth2.AuthStyleInParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c := tc.client
			c.RedirectURIs = []string{redirect}
			c.Scopes = []string{"read"}
			srv := oauthtest.NewServer(t, oauthtest.Options{EnforcePKCE: true, Clients: []oauthtest.Client{c}})
			srv.SetUser("bob")
			oc := &oauth2.Config{
				ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: redirect, Scopes: []string{"read"},
				Endpoint: oauth2.Endpoint{AuthURL: srv.AuthorizationURL(), TokenURL: srv.TokenURL(), AuthStyle: tc.style},
			}
			ctx = context.WithValue(ctx, oauth2.HTTPClient, srv.HTTPClient())

			verifier := oauth2.GenerateVerifier()
			loc, err := srv.Authorize(ctx, oc.AuthCodeURL("state-123456", oauth2.S256ChallengeOption(verifier)))
			if err != nil {
				t.Fatal(err)
			}
			if loc.Query().Get("state") != "state-123456" {
				t.Fatalf("callback %v", loc)
			}
			tok, err := oc.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if tok.RefreshToken == "" {
				t.Fatal("no refresh token without the offline scope")
			}
			if got := tok.Extra("scope"); got != "read" {
				t.Errorf("scope %v", got)
			}
			callMe(t, srv, tok.AccessToken, http.StatusOK)

			expired := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
			tok2, err := oc.TokenSource(ctx, expired).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			callMe(t, srv, tok2.AccessToken, http.StatusOK)
			callMe(t, srv, tok.AccessToken, http.StatusUnauthorized)
			callMe(t, srv, "not-a-token", http.StatusUnauthorized)

			if srv.AuthorizationRequests() != 1 || srv.TokenRequests() != 2 || srv.CodeExchanges() != 1 ||
				srv.RefreshRequests() != 1 || srv.RefreshTokenReuses() != 0 || srv.APIRequests() != 4 {
				t.Errorf("counters: authorize %d, token %d, codes %d, refresh %d, reuse %d, api %d",
					srv.AuthorizationRequests(), srv.TokenRequests(), srv.CodeExchanges(),
					srv.RefreshRequests(), srv.RefreshTokenReuses(), srv.APIRequests())
			}
			if p := srv.PresentedRefreshTokens(); len(p) != 1 || p[0] != tok.RefreshToken {
				t.Errorf("presented refresh tokens %d", len(p))
			}

			// Reuse of the rotated refresh token.
			if _, err := oc.TokenSource(ctx, expired).Token(); err == nil {
				t.Error("reused refresh token accepted")
			}
			if n := srv.RefreshTokenReuses(); n != 1 {
				t.Errorf("RefreshTokenReuses = %d, want 1", n)
			}
			callMe(t, srv, tok2.AccessToken, http.StatusUnauthorized)
		})
	}
}

func callMe(t *testing.T, srv *oauthtest.Server, token string, want int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.APIURL(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Errorf("/api/me: %d, want %d", resp.StatusCode, want)
	}
}

// The API accepts only "Bearer" exactly (Q07).
func TestAPIStrictScheme(t *testing.T) {
	srv := oauthtest.NewServer(t, oauthtest.Options{})
	req, _ := http.NewRequest(http.MethodGet, srv.APIURL(), nil)
	req.Header.Set("Authorization", "bearer x")
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}
