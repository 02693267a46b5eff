package oauth

import (
	"maps"
	"slices"

	"golang.org/x/oauth2"
)

// AuthCodeURL returns the provider's authorization URL for an
// authorization-code request (RFC 6749 §4.1.1), built by x/oauth2:
// response_type=code, client_id, redirect_uri, scope (omitted when empty,
// Q21; sent exactly as configured, Q20), state, then AuthorizationParams,
// and with PKCE code_challenge and code_challenge_method=S256 derived from
// verifier (RFC 7636 §4.2, Q24).
//
// state must be unguessable and bound to the user's session by the caller.
// With PKCE the caller keeps verifier (from GenerateVerifier) for Exchange;
// without PKCE verifier is ignored. AuthorizationParams cannot override the
// parameters above.
func (c *Config) AuthCodeURL(redirectURI, state, verifier string) string {
	oc := &oauth2.Config{
		ClientID:    c.ClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: c.AuthorizationURL},
		RedirectURL: redirectURI,
	}
	if c.Scope != "" {
		// One element: x/oauth2 would join several with spaces, and the
		// scope must go out as configured.
		oc.Scopes = []string{c.Scope}
	}
	opts := make([]oauth2.AuthCodeOption, 0, len(c.AuthorizationParams)+1)
	for _, k := range slices.Sorted(maps.Keys(c.AuthorizationParams)) {
		if reservedAuthParams[k] {
			continue
		}
		opts = append(opts, oauth2.SetAuthURLParam(k, c.AuthorizationParams[k]))
	}
	if c.PKCE {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	return oc.AuthCodeURL(state, opts...)
}

// GenerateVerifier returns a fresh PKCE code verifier: 32 random octets,
// base64url-encoded (RFC 7636 §4.1). Use one per authorization request.
func GenerateVerifier() string { return oauth2.GenerateVerifier() }
