package oauth

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseTokenResponse feeds arbitrary answers to the token response
// parser: it must never panic, and a Token it returns is always usable.
func FuzzParseTokenResponse(f *testing.F) {
	seeds := []struct {
		status int
		ctype  string
		body   string
		path   string
	}{
		{200, "application/json", `{"access_token":"a","token_type":"bearer","expires_in":3600,"refresh_token":"r","scope":"x y"}`, ""},
		{200, "application/x-www-form-urlencoded", "access_token=a&scope=repo%2Cgist&token_type=bearer", ""},
		{200, "application/json", `{"ok":false,"error":"invalid_code"}`, ""},
		{200, "application/json", `{"ok":true,"authed_user":{"access_token":"a","token_type":"user"}}`, "authed_user.access_token"},
		{200, "application/json", `{"access_token":"a","expires_in":"3599"}`, ""},
		{200, "application/json", `{"access_token":"a","expires_in":3599.0}`, ""},
		{200, "application/json", `{"access_token":"a","expires_in":null}`, ""},
		{200, "application/json", `{"access_token":"a","expires_in":""}`, ""},
		{200, "application/json", `{"access_token":"a","expires_in":0}`, ""},
		{200, "application/json", `{"access_token":"a","expires_in":1e400}`, ""},
		{200, "application/json", `{"access_token":"a","token_type":"mac"}`, ""},
		{200, "application/json", `{"access_token":"a","scope":["a",1,null]}`, ""},
		{200, "application/json", `{"a":{"b":{"c":"tok"}}}`, "a.b.c"},
		{200, "application/json", `{"a.b":"tok"}`, "a.b"},
		{200, "application/json", `{"a":"x"}`, "a.b.c"},
		{400, "application/json", `{"error":"invalid_grant","error_description":"\u0000bad"}`, ""},
		{401, "text/html", `<html>`, ""},
		{503, "", ``, ""},
		{200, "text/plain", `%zz&&==`, ""},
		{200, "application/json", `{"access_token":"a"} trailing`, "."},
		{200, "application/json", `{"ok":"false","error":{"nested":true}}`, ".."},
	}
	for _, s := range seeds {
		f.Add(s.status, s.ctype, []byte(s.body), s.path)
	}
	sent := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, ctype string, body []byte, path string) {
		resp := &response{status: status, contentType: ctype, body: body, sentAt: sent}
		paths := TokenPaths{AccessToken: path, RefreshToken: path + ".r", ExpiresIn: path, Scope: path}
		tok, err := parseTokenResponse(resp, paths, "requested,scope", []string{"secret-value"})
		if (tok == nil) == (err == nil) {
			t.Fatalf("token %v and error %v", tok, err)
		}
		if err != nil {
			_ = err.Error()
			IsTransient(err)
			IsInvalidGrant(err)
			return
		}
		if tok.AccessToken.IsZero() || tok.TokenType != "Bearer" {
			t.Fatalf("unusable token %+v", tok)
		}
		if !tok.ExpiresAt.IsZero() && (!tok.ExpiresAt.After(sent) || tok.ExpiresAt.After(sent.Add(maxExpiresIn))) {
			t.Fatalf("ExpiresAt %v out of range", tok.ExpiresAt)
		}
		if strings.Contains(tok.Scope, ",") || strings.Contains(tok.Scope, "  ") {
			t.Fatalf("scope %q not normalised", tok.Scope)
		}
	})
}
