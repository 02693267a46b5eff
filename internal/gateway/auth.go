package gateway

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/actiongate/actiongate/internal/apierr"
)

// Auth types.
const (
	AuthNone   = "none"
	AuthAPIKey = "api_key"
	AuthOAuth  = "oauth"
)

// API-key placements (auth_type).
const (
	KeyBearer = "bearer"
	KeyBasic  = "basic"
	KeyCustom = "custom"
)

// Auth is an action's authentication config as the API shows and stores it. It
// never holds a secret: the API key or client secret travels separately, sealed.
type Auth struct {
	Type string `json:"type"`

	// api_key
	AuthType     string `json:"auth_type,omitempty"`
	CustomHeader string `json:"custom_header,omitempty"`

	// oauth
	ClientID                 string            `json:"client_id,omitempty"`
	AuthorizationURL         string            `json:"authorization_url,omitempty"`
	TokenURL                 string            `json:"token_url,omitempty"`
	Scope                    string            `json:"scope,omitempty"`
	TokenExchangeMethod      string            `json:"token_exchange_method,omitempty"`
	AuthorizationContentType string            `json:"authorization_content_type,omitempty"`
	PKCE                     *bool             `json:"pkce,omitempty"`
	AuthorizationParams      map[string]string `json:"authorization_params,omitempty"`
	RevocationURL            string            `json:"revocation_url,omitempty"`
	// RefreshScope resends the granted scope on refresh (Microsoft identity
	// platform needs it).
	RefreshScope bool `json:"refresh_scope,omitempty"`
	// TokenPaths locate tokens nested in a provider's token response (Slack's
	// authed_user.access_token); empty means top level.
	TokenPaths *TokenPaths `json:"token_paths,omitempty"`

	// Output only: whether a secret is stored.
	HasAPIKey       bool `json:"has_api_key,omitempty"`
	HasClientSecret bool `json:"has_client_secret,omitempty"`
}

// TokenPaths are dot paths into a JSON token response.
type TokenPaths struct {
	AccessToken  string `json:"access_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	ExpiresIn    string `json:"expires_in,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// AuthInput is the auth object of a create or update request: Auth plus the
// write-only secrets.
type AuthInput struct {
	Auth
	APIKey       *string `json:"api_key,omitempty"`
	ClientSecret *string `json:"client_secret,omitempty"`
}

const (
	contentForm = "application/x-www-form-urlencoded"
	contentJSON = "application/json"
)

// normalize validates the auth config, fills defaults and returns the secret
// given with it (nil when none was given). Every problem names its field.
func (in *AuthInput) normalize(allowPrivate bool) (*string, error) {
	a := &in.Auth
	a.HasAPIKey, a.HasClientSecret = false, false
	bad := func(format string, args ...any) error {
		return apierr.New(apierr.InvalidRequest, format, args...)
	}
	switch a.Type {
	case "", AuthNone:
		a.Type = AuthNone
		if in.APIKey != nil || in.ClientSecret != nil {
			return nil, bad("auth: type none takes no api_key or client_secret")
		}
		*a = Auth{Type: AuthNone}
		return nil, nil
	case AuthAPIKey:
		if in.ClientSecret != nil {
			return nil, bad("auth.client_secret: not used by type api_key")
		}
		a.AuthType = strings.ToLower(a.AuthType)
		switch a.AuthType {
		case "":
			// Empty: where the document's apiKey security scheme says, else bearer.
		case KeyBearer, KeyBasic:
			a.CustomHeader = ""
		case KeyCustom:
			if a.CustomHeader == "" {
				return nil, bad("auth.custom_header: required when auth_type is custom")
			}
			if !validHeaderName(a.CustomHeader) {
				return nil, bad("auth.custom_header: %q is not a valid header name", a.CustomHeader)
			}
			switch http.CanonicalHeaderKey(a.CustomHeader) {
			case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Cookie":
				return nil, bad("auth.custom_header: %q cannot carry a key", a.CustomHeader)
			}
		default:
			return nil, bad("auth.auth_type: %q must be bearer, basic or custom", a.AuthType)
		}
		if in.APIKey != nil {
			k := strings.TrimSpace(*in.APIKey)
			if k == "" {
				return nil, bad("auth.api_key: must not be empty")
			}
			if strings.IndexFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
				// It goes into a header, a query or a cookie: none can carry
				// one, and the call would fail as if the API were down.
				return nil, bad("auth.api_key: must not contain line breaks or other control characters")
			}
			in.APIKey = &k
		}
		return in.APIKey, nil
	case AuthOAuth:
		if in.APIKey != nil {
			return nil, bad("auth.api_key: not used by type oauth")
		}
		if a.ClientID == "" {
			return nil, bad("auth.client_id: required for type oauth")
		}
		for _, f := range []struct{ name, v string }{
			{"authorization_url", a.AuthorizationURL}, {"token_url", a.TokenURL}, {"revocation_url", a.RevocationURL},
		} {
			if f.v == "" && f.name == "revocation_url" {
				continue
			}
			if err := checkProviderURL(f.v, allowPrivate); err != nil {
				return nil, bad("auth.%s: %v", f.name, err)
			}
		}
		switch a.TokenExchangeMethod {
		case "":
			a.TokenExchangeMethod = "post"
		case "post", "basic":
		default:
			return nil, bad("auth.token_exchange_method: %q must be post or basic", a.TokenExchangeMethod)
		}
		switch a.AuthorizationContentType {
		case "":
			a.AuthorizationContentType = contentForm
		case contentForm, contentJSON:
		default:
			return nil, bad("auth.authorization_content_type: %q must be %s or %s", a.AuthorizationContentType, contentForm, contentJSON)
		}
		if a.PKCE == nil {
			t := true
			a.PKCE = &t
		}
		for k := range a.AuthorizationParams {
			switch k {
			case "response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "scope":
				return nil, bad("auth.authorization_params: %q is set by the gateway", k)
			}
		}
		a.AuthType, a.CustomHeader = "", ""
		return in.ClientSecret, nil
	}
	return nil, bad("auth.type: %q must be none, api_key or oauth", a.Type)
}

func checkProviderURL(raw string, allowPrivate bool) error {
	if raw == "" {
		return fmt.Errorf("required for type oauth")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && allowPrivate) {
		if u.Scheme == "http" {
			return fmt.Errorf("%q must use https (plain http only with ACTIONGATE_ALLOW_PRIVATE_NETWORKS=1, for trials on your own machine)", raw)
		}
		return fmt.Errorf("%q must use https", raw)
	}
	if u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q must not contain credentials or a fragment", raw)
	}
	return nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c > 127 || !(c == '-' || c == '_' || c == '.' || c == '!' || c == '#' || c == '$' || c == '%' || c == '&' ||
			c == '\'' || c == '*' || c == '+' || c == '^' || c == '`' || c == '|' || c == '~' ||
			('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')) {
			return false
		}
	}
	return true
}

// basicValue turns a stored key into the value of a Basic Authorization header.
// Builders paste either "user:pass" or the already base64-encoded credentials
// (QUIRKS Q26): a value containing ':' is encoded; a value that is valid base64 of
// something containing ':' is sent as is; anything else is encoded as the user
// name with an empty password.
func basicValue(key string) string {
	if strings.Contains(key, ":") {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(key))
	}
	if dec, err := base64.StdEncoding.DecodeString(key); err == nil && strings.Contains(string(dec), ":") {
		return "Basic " + key
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"))
}
