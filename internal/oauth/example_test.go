package oauth_test

import (
	"fmt"
	"net/url"

	"github.com/actiongate/actiongate/internal/oauth"
)

func ExampleConfig_AuthCodeURL() {
	cfg := &oauth.Config{
		ClientID:            "my-client",
		AuthorizationURL:    "https://accounts.example.com/o/oauth2/auth",
		Scope:               "read write",
		PKCE:                true,
		AuthorizationParams: map[string]string{"access_type": "offline"},
	}
	// In real use: verifier := oauth.GenerateVerifier(), kept with the state.
	verifier := "dBjftJeZ4CVP-mJ92K9qZBQJ4v7UpyRGVNmRTvZ1Eqw"
	u, _ := url.Parse(cfg.AuthCodeURL("https://gw.example.com/oauth/callback", "an-unguessable-state", verifier))
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method", "access_type"} {
		fmt.Printf("%s=%s\n", k, u.Query().Get(k))
	}
	// Output:
	// response_type=code
	// client_id=my-client
	// redirect_uri=https://gw.example.com/oauth/callback
	// scope=read write
	// state=an-unguessable-state
	// code_challenge=pBAwucJcMmmURnp7WR60qukX0628r2VXbUgfa6En8AA
	// code_challenge_method=S256
	// access_type=offline
}
