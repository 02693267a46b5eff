package oauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/actiongate/actiongate/internal/secrets"
)

// Refresh uses a refresh token for new tokens (RFC 6749 §6): one POST to
// cfg.TokenURL with grant_type=refresh_token and, when cfg.RefreshScope is
// set (Microsoft, Q12), scope=grantedScope (cfg.Scope if that is empty).
//
// grantedScope is the scope stored for the connection; the returned Token
// keeps it when the response names none (Q08). A response without a
// refresh_token gives a Token with a zero RefreshToken: the caller must keep
// the one it has (Q08). With rotating refresh tokens the caller must store
// the new one before anything uses it, and run one refresh per connection at
// a time (Q09, Q10).
//
// On failure the caller's stored tokens stay valid as far as this package
// knows: see Error for which failures are transient and which need a new
// sign-in (Q13).
func (c *Client) Refresh(ctx context.Context, cfg *Config, refreshToken secrets.Secret, grantedScope string) (*Token, error) {
	if refreshToken.IsZero() {
		return nil, errors.New("oauth: refresh: no refresh token")
	}
	params := map[string]string{
		"grant_type":    "refresh_token",
		"refresh_token": refreshToken.Reveal(),
	}
	scope := grantedScope
	if scope == "" {
		scope = cfg.Scope
	}
	if cfg.RefreshScope && scope != "" {
		params["scope"] = scope
	}
	tok, err := c.token(ctx, cfg, params, scope, []string{refreshToken.Reveal()})
	if err != nil {
		return nil, fmt.Errorf("oauth: refresh: %w", err)
	}
	return tok, nil
}
