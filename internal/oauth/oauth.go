// Package oauth is actiongate's OAuth 2.0 client for the authorization-code
// flow (RFC 6749 §4.1) with PKCE (RFC 7636): it builds the authorization
// redirect, exchanges codes, refreshes and revokes (RFC 7009) tokens, and
// survives the ways real providers bend the standard (see QUIRKS.md).
//
// golang.org/x/oauth2 builds the authorization URL and the PKCE verifier and
// challenge. Token requests are made by hand: x/oauth2 cannot send a JSON
// token request (Q19), guesses the client-authentication style and retries
// with the other one when the first fails (Q18, which burns single-use codes),
// cannot read tokens nested in the response (Q03) and rejects some of the
// expires_in and token_type values seen in the wild (Q04–Q07).
//
// No token, code, verifier or client secret ever appears in an error string:
// they travel as secrets.Secret, and a provider's error description is cut
// short and scrubbed of them before it is kept (see Error).
package oauth

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/actiongate/actiongate/internal/secrets"
)

// Client authentication methods at the token endpoint (Config.ExchangeMethod).
const (
	// ExchangeMethodPost sends client_id and client_secret in the request
	// body (RFC 6749 §2.3.1, client_secret_post). The default.
	ExchangeMethodPost = "post"
	// ExchangeMethodBasic sends them in an HTTP Basic Authorization header,
	// each form-urlencoded before base64 as RFC 6749 §2.3.1 requires, and
	// neither of them in the body (client_secret_basic).
	ExchangeMethodBasic = "basic"
)

// Token request body encodings (Config.ContentType).
const (
	// ContentTypeForm is the standard encoding (RFC 6749 §4.1.3). The default.
	ContentTypeForm = "application/x-www-form-urlencoded"
	// ContentTypeJSON sends a JSON object of strings, for the few servers that
	// require it (Q19).
	ContentTypeJSON = "application/json"
)

// DefaultUserAgent is sent on every provider call when Client.UserAgent is
// empty. Some providers (Reddit) reject generic user agents such as Go's (Q15).
const DefaultUserAgent = "actiongate/1 (+https://github.com/actiongate/actiongate)"

// reservedAuthParams are the authorization request parameters this package
// sets itself; Config.AuthorizationParams cannot override them.
var reservedAuthParams = map[string]bool{
	"response_type":         true,
	"client_id":             true,
	"redirect_uri":          true,
	"scope":                 true,
	"state":                 true,
	"code_challenge":        true,
	"code_challenge_method": true,
}

// Config is one action's OAuth client configuration: the auth object of
// API.md with the client secret as a Secret. The zero values of
// ExchangeMethod and ContentType mean the defaults (post, form).
type Config struct {
	ClientID     string
	ClientSecret secrets.Secret

	// AuthorizationURL is the provider's authorization endpoint; TokenURL its
	// token endpoint; RevocationURL its RFC 7009 endpoint, optional.
	AuthorizationURL, TokenURL, RevocationURL string

	// Scope is sent exactly as configured, whatever its delimiter (Q20), and
	// omitted when empty (Q21).
	Scope string

	// ExchangeMethod is how the client authenticates at the token and
	// revocation endpoints: ExchangeMethodPost (default) or
	// ExchangeMethodBasic. It is never auto-detected and a failed request is
	// never retried with the other method (Q18).
	ExchangeMethod string

	// ContentType is the token request body encoding: ContentTypeForm
	// (default) or ContentTypeJSON (Q19).
	ContentType string

	// PKCE adds an S256 code challenge to the authorization URL and the
	// verifier to the code exchange (Q24). There is no plain method.
	PKCE bool

	// AuthorizationParams are extra authorization request parameters, such
	// as Google's access_type=offline (Q11). Keys this package sets itself
	// (response_type, client_id, redirect_uri, scope, state, code_challenge,
	// code_challenge_method) are ignored; Validate reports them.
	AuthorizationParams map[string]string

	// RefreshScope resends the granted scopes on refresh, as Microsoft's
	// identity platform requires (Q12).
	RefreshScope bool

	// TokenPaths locate the token fields in the JSON response (Q03).
	TokenPaths TokenPaths
}

// TokenPaths are dot-separated paths into a token response, such as
// "authed_user.access_token" for Slack user tokens (Q03). An empty path means
// the standard top-level field (access_token, refresh_token, expires_in,
// scope). A path is looked up through nested objects first and then as a
// literal top-level key, so it also works for form-encoded responses.
type TokenPaths struct {
	AccessToken, RefreshToken, ExpiresIn, Scope string
}

func (p TokenPaths) accessToken() string  { return orDefault(p.AccessToken, "access_token") }
func (p TokenPaths) refreshToken() string { return orDefault(p.RefreshToken, "refresh_token") }
func (p TokenPaths) expiresIn() string    { return orDefault(p.ExpiresIn, "expires_in") }
func (p TokenPaths) scope() string        { return orDefault(p.Scope, "scope") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (c *Config) exchangeMethod() string { return orDefault(c.ExchangeMethod, ExchangeMethodPost) }
func (c *Config) contentType() string    { return orDefault(c.ContentType, ContentTypeForm) }

// Validate reports every problem with the configuration at once, naming the
// API.md field of each. It checks shape only: whether a URL may be reached
// is decided by the HTTP client the caller passes to Client.
func (c *Config) Validate() error {
	var errs []error
	if c.ClientID == "" {
		errs = append(errs, errors.New("client_id is required"))
	}
	for _, u := range []struct{ name, value string }{
		{"authorization_url", c.AuthorizationURL},
		{"token_url", c.TokenURL},
	} {
		if u.value == "" {
			errs = append(errs, fmt.Errorf("%s is required", u.name))
		} else if !isHTTPURL(u.value) {
			errs = append(errs, fmt.Errorf("%s must be an absolute http(s) URL", u.name))
		}
	}
	if c.RevocationURL != "" && !isHTTPURL(c.RevocationURL) {
		errs = append(errs, errors.New("revocation_url must be an absolute http(s) URL"))
	}
	switch c.ExchangeMethod {
	case "", ExchangeMethodPost, ExchangeMethodBasic:
	default:
		errs = append(errs, fmt.Errorf("token_exchange_method must be %q or %q", ExchangeMethodPost, ExchangeMethodBasic))
	}
	switch c.ContentType {
	case "", ContentTypeForm, ContentTypeJSON:
	default:
		errs = append(errs, fmt.Errorf("authorization_content_type must be %q or %q", ContentTypeForm, ContentTypeJSON))
	}
	for _, k := range slices.Sorted(maps.Keys(c.AuthorizationParams)) {
		if reservedAuthParams[k] {
			errs = append(errs, fmt.Errorf("authorization_params must not set %q", k))
		}
	}
	return errors.Join(errs...)
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// normalizeScope turns a granted-scope list delimited by spaces, commas or
// both (GitHub reports "repo,gist", Q20) into a space-separated list without
// duplicates, in the provider's order.
func normalizeScope(s string) string {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	seen := make(map[string]bool, len(fields))
	out := fields[:0]
	for _, f := range fields {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return strings.Join(out, " ")
}
