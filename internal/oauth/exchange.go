package oauth

import (
	"context"
	"errors"
	"fmt"
)

// Exchange trades an authorization code for tokens (RFC 6749 §4.1.3): one
// POST to cfg.TokenURL with grant_type=authorization_code, code, the
// redirect_uri used in AuthCodeURL and, with PKCE, the code_verifier (RFC
// 7636 §4.5). It is attempted once: a code is single-use, so a failure is
// never retried, with another client authentication or otherwise (Q18).
//
// With cfg.PKCE an empty verifier is an error, not a silent downgrade (Q24);
// without PKCE no verifier is sent, since servers reject a verifier for a
// request that had no challenge.
func (c *Client) Exchange(ctx context.Context, cfg *Config, code, redirectURI, verifier string) (*Token, error) {
	if code == "" {
		return nil, errors.New("oauth: exchange: empty authorization code")
	}
	if cfg.PKCE && verifier == "" {
		return nil, errors.New("oauth: exchange: PKCE is on but the code verifier is missing")
	}
	params := map[string]string{
		"grant_type": "authorization_code",
		"code":       code,
	}
	if redirectURI != "" {
		params["redirect_uri"] = redirectURI
	}
	if cfg.PKCE {
		params["code_verifier"] = verifier
	}
	tok, err := c.token(ctx, cfg, params, cfg.Scope, []string{code, verifier})
	if err != nil {
		return nil, fmt.Errorf("oauth: exchange: %w", err)
	}
	return tok, nil
}
