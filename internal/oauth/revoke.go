package oauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/actiongate/actiongate/internal/secrets"
)

// Token type hints for Revoke (RFC 7009 §2.1).
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"
)

// Revoke asks the provider to revoke token (RFC 7009 §2.1): one POST to
// cfg.RevocationURL with token and, when hint is not empty, token_type_hint,
// using the same client authentication and body encoding as token requests.
// Revoking a refresh token usually revokes its access tokens too (§2.1).
//
// Any 2xx answer is success, including for a token the provider no longer
// knows (§2.2). A 503 or other transient failure is reported as such
// (§2.2.1) and may be retried later. ErrNoRevocationURL when cfg has no
// revocation endpoint.
func (c *Client) Revoke(ctx context.Context, cfg *Config, token secrets.Secret, hint string) error {
	if cfg.RevocationURL == "" {
		return fmt.Errorf("oauth: revoke: %w", ErrNoRevocationURL)
	}
	if token.IsZero() {
		return errors.New("oauth: revoke: no token")
	}
	params := map[string]string{"token": token.Reveal()}
	if hint != "" {
		params["token_type_hint"] = hint
	}
	resp, err := c.post(ctx, cfg, cfg.RevocationURL, params)
	if err != nil {
		return fmt.Errorf("oauth: revoke: %w", err)
	}
	if resp.status/100 == 2 {
		return nil
	}
	fields, _ := decodeBody(resp.body, resp.contentType)
	return fmt.Errorf("oauth: revoke: %w", errorFromFields(fields, resp.status, []string{token.Reveal(), cfg.ClientSecret.Reveal()}))
}
