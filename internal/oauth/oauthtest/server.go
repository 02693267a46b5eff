// Package oauthtest runs a real, standards-compliant OAuth 2.0 authorization
// server in-process for tests: ory/fosite behind an httptest.Server.
//
// The server offers the authorization-code grant (RFC 6749 §4.1) with PKCE
// (RFC 7636, S256 only), refresh (§6) with rotation and reuse detection,
// revocation (RFC 7009) and a protected API:
//
//	GET  /authorize  auto-approves for the current user (SetUser) and
//	                 redirects to the client's redirect_uri with code and state
//	POST /token      authorization_code and refresh_token grants
//	POST /revoke     RFC 7009 revocation
//	GET  /api/me     {"sub", "scope", "client_id"} for a valid
//	                 "Authorization: Bearer <access token>", else 401
//
// What fosite does, and what the harness adds, as tests see it:
//
//   - Refresh tokens: fosite issues them only when the "offline" or
//     "offline_access" scope was granted; the harness sets
//     fosite.Config.RefreshTokenScopes to empty, so every code exchange
//     returns a refresh token whatever the scope.
//   - Rotation: every refresh returns a new refresh token and access token
//     and makes the presented refresh token and the previous access token
//     inactive.
//   - Reuse detection: presenting an inactive (already rotated or revoked)
//     refresh token answers invalid_grant and revokes the whole family: the
//     newest refresh token and access token die too (RFC 6819 §5.2.2.3).
//     RefreshTokenReuses counts these events.
//   - Codes are single-use; replaying one answers invalid_grant and revokes
//     the tokens issued for it.
//   - PKCE: a challenge must use S256; a verifier must match; a verifier sent
//     for a request that had no challenge is invalid_grant. With
//     Options.EnforcePKCE a request without a challenge is refused.
//   - state must be at least 8 characters (fosite's minimum entropy).
//   - Client authentication follows Client.AuthMethod strictly, decodes
//     Basic credentials as RFC 6749 §2.3.1 says (form-urlencoded, then
//     base64), and, like Notion (Q16), the harness refuses a request that
//     uses Basic and also puts client_id or client_secret in the body.
//   - Token requests must be form-encoded (RFC 6749); JSON bodies are
//     refused with invalid_request, as most real servers do (Q19).
//   - Responses are JSON with token_type "bearer" (lowercase) and a
//     space-separated scope.
//
// Requests are handled one at a time, so counters and fosite's in-memory
// store are consistent even when a test sends requests concurrently.
package oauthtest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"golang.org/x/crypto/bcrypt"
)

// Client authentication methods (RFC 7591 token_endpoint_auth_method).
const (
	AuthMethodBasic = "client_secret_basic"
	AuthMethodPost  = "client_secret_post"
)

// DefaultUser is the subject signed in until SetUser changes it.
const DefaultUser = "user-1"

// Options configure a Server.
type Options struct {
	// EnforcePKCE refuses authorization requests without a code challenge.
	EnforcePKCE bool
	// AccessTokenLifespan defaults to one hour, RefreshTokenLifespan to 30
	// days; a negative RefreshTokenLifespan means refresh tokens never expire.
	AccessTokenLifespan, RefreshTokenLifespan time.Duration
	// Clients are the registered OAuth clients.
	Clients []Client
}

// Client is a registered OAuth client. Every client may use the
// authorization_code and refresh_token grants.
type Client struct {
	ID, Secret string
	// AuthMethod is AuthMethodBasic (the default) or AuthMethodPost; the
	// server accepts only that one. Ignored for public clients, which
	// send only client_id.
	AuthMethod string
	// RedirectURIs must match a request's redirect_uri exactly. http is
	// allowed only for loopback hosts and localhost.
	RedirectURIs []string
	// Scopes the client may request; a request for any other scope is
	// refused with invalid_scope.
	Scopes []string
	// Public clients have no secret (token_endpoint_auth_method "none").
	Public bool
}

// Request is one request the server received, recorded for assertions.
type Request struct {
	Path   string
	Header http.Header
	Form   url.Values // parsed body (and query)
}

// Server is a running authorization server. Its methods are safe for
// concurrent use.
type Server struct {
	srv      *httptest.Server
	provider fosite.OAuth2Provider
	store    *memoryStore

	mu             sync.Mutex // serialises request handling and guards below
	subject        string
	tokenRequests  []Request
	codeExchanges  int
	refreshes      int
	presented      []string
	reuses         int
	revocations    int
	apiRequests    int
	authorizations int
}

// NewServer starts a server on a loopback port and stops it when the test
// ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Listen("", opts)
	if err != nil {
		t.Fatalf("oauthtest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Listen starts a server outside a test, on addr (host:port; "" for a free
// loopback port): a sign-in provider to try actiongate against on one's own
// machine (examples/devapi). Close stops it.
func Listen(addr string, opts Options) (*Server, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("global secret: %w", err)
	}
	cfg := &fosite.Config{
		AccessTokenLifespan:  opts.AccessTokenLifespan,
		RefreshTokenLifespan: opts.RefreshTokenLifespan,
		GlobalSecret:         secret,
		EnforcePKCE:          opts.EnforcePKCE,
		// Empty, not nil: issue refresh tokens without "offline" scope.
		RefreshTokenScopes: []string{},
		HashCost:           bcrypt.MinCost,
		// fosite fills these in lazily on first use, which would be a data
		// race; set them up front.
		ScopeStrategy:            fosite.ExactScopeStrategy,
		AudienceMatchingStrategy: fosite.DefaultAudienceMatchingStrategy,
	}
	cfg.ClientSecretsHasher = &fosite.BCrypt{Config: cfg}

	store := newMemoryStore()
	for _, c := range opts.Clients {
		fc, err := fositeClient(cfg, c)
		if err != nil {
			return nil, fmt.Errorf("client %q: %w", c.ID, err)
		}
		store.clients[c.ID] = fc
	}

	s := &Server{
		store:   store,
		subject: DefaultUser,
		provider: compose.Compose(cfg, store, compose.NewOAuth2HMACStrategy(cfg),
			compose.OAuth2AuthorizeExplicitFactory,
			compose.OAuth2RefreshTokenGrantFactory,
			compose.OAuth2TokenIntrospectionFactory,
			compose.OAuth2TokenRevocationFactory,
			compose.OAuth2PKCEFactory, // after the authorize code handler
		),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", s.authorize)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /revoke", s.revoke)
	mux.HandleFunc("GET /api/me", s.me)
	s.srv = httptest.NewUnstartedServer(mux)
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		s.srv.Listener.Close()
		s.srv.Listener = ln
	}
	s.srv.Start()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

func fositeClient(cfg *fosite.Config, c Client) (fosite.Client, error) {
	method := c.AuthMethod
	switch {
	case c.Public:
		method = "none"
	case method == "":
		method = AuthMethodBasic
	case method != AuthMethodBasic && method != AuthMethodPost:
		return nil, fmt.Errorf("unknown AuthMethod %q", method)
	}
	dc := &fosite.DefaultClient{
		ID:            c.ID,
		RedirectURIs:  slices.Clone(c.RedirectURIs),
		GrantTypes:    []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"},
		Scopes:        slices.Clone(c.Scopes),
		Public:        c.Public,
	}
	if !c.Public {
		hash, err := cfg.GetSecretsHasher(context.Background()).Hash(context.Background(), []byte(c.Secret))
		if err != nil {
			return nil, err
		}
		dc.Secret = hash
	}
	return &fosite.DefaultOpenIDConnectClient{DefaultClient: dc, TokenEndpointAuthMethod: method}, nil
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// AuthorizationURL is the authorization endpoint.
func (s *Server) AuthorizationURL() string { return s.srv.URL + "/authorize" }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return s.srv.URL + "/token" }

// RevocationURL is the RFC 7009 revocation endpoint.
func (s *Server) RevocationURL() string { return s.srv.URL + "/revoke" }

// APIURL is the protected API, /api/me.
func (s *Server) APIURL() string { return s.srv.URL + "/api/me" }

// HTTPClient returns a client for the server that does not follow
// redirects, so a test sees the authorization endpoint's 302.
func (s *Server) HTTPClient() *http.Client {
	c := *s.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// SetUser sets the subject the authorization endpoint signs in from now on:
// a browser-less login.
func (s *Server) SetUser(subject string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subject = subject
}

// Authorize performs the browser's part: it GETs authURL (as built by the
// client under test) without following the redirect and returns where the
// server redirected to, normally the redirect_uri with code and state, or
// with error and error_description.
func (s *Server) Authorize(ctx context.Context, authURL string) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("oauthtest: authorize answered %s, not a redirect", resp.Status)
	}
	return resp.Location()
}

// TokenRequests is the number of requests to the token endpoint, whatever
// their grant or outcome.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokenRequests)
}

// TokenRequestLog returns every token endpoint request, in order, with its
// headers and parsed form, for asserting what a client sent.
func (s *Server) TokenRequestLog() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.tokenRequests))
	for i, r := range s.tokenRequests {
		out[i] = Request{Path: r.Path, Header: r.Header.Clone(), Form: cloneValues(r.Form)}
	}
	return out
}

// CodeExchanges is the number of authorization_code grant requests.
func (s *Server) CodeExchanges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.codeExchanges
}

// RefreshRequests is the number of refresh_token grant requests.
func (s *Server) RefreshRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// PresentedRefreshTokens returns the refresh token of every refresh_token
// grant request, in order: a test can check that the second refresh used
// the token the first one returned (Q10).
func (s *Server) PresentedRefreshTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.presented)
}

// RefreshTokenReuses counts refresh requests that presented an inactive
// refresh token, one already rotated or revoked. fosite treats each as
// token theft and revokes the token family. A correct client keeps it 0.
func (s *Server) RefreshTokenReuses() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reuses
}

// RevocationRequests is the number of requests to the revocation endpoint.
func (s *Server) RevocationRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revocations
}

// AuthorizationRequests is the number of requests to the authorization
// endpoint.
func (s *Server) AuthorizationRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authorizations
}

// APIRequests is the number of requests to /api/me.
func (s *Server) APIRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiRequests
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorizations++
	ctx := r.Context()
	ar, err := s.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		s.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	// Consent: grant everything requested (fosite has already refused
	// scopes the client may not ask for).
	for _, scope := range ar.GetRequestedScopes() {
		ar.GrantScope(scope)
	}
	session := &fosite.DefaultSession{Subject: s.subject, Username: s.subject}
	resp, err := s.provider.NewAuthorizeResponse(ctx, ar, session)
	if err != nil {
		s.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	s.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := r.Context()

	// Parse once for the log; fosite reads r.PostForm afterwards.
	parseErr := r.ParseForm()
	s.tokenRequests = append(s.tokenRequests, Request{Path: r.URL.Path, Header: r.Header.Clone(), Form: cloneValues(r.PostForm)})
	grant := r.PostForm.Get("grant_type")
	switch grant {
	case "authorization_code":
		s.codeExchanges++
	case "refresh_token":
		s.refreshes++
		s.presented = append(s.presented, r.PostForm.Get("refresh_token"))
	}

	session := &fosite.DefaultSession{}
	var ar fosite.AccessRequester
	err := parseErr
	if err == nil {
		err = oneAuthMethod(r)
	}
	if err == nil {
		before := s.store.inactiveRefreshHits()
		ar, err = s.provider.NewAccessRequest(ctx, r, session)
		if grant == "refresh_token" && s.store.inactiveRefreshHits() > before {
			s.reuses++
		}
	}
	if err != nil {
		s.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		s.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
}

// oneAuthMethod refuses Basic credentials together with credentials in the
// body (RFC 6749 §2.3: "MUST NOT use more than one authentication method"),
// as strictly as Notion does (Q16): client_id in the body counts.
func oneAuthMethod(r *http.Request) error {
	if _, _, basic := r.BasicAuth(); basic && (r.PostForm.Has("client_id") || r.PostForm.Has("client_secret")) {
		return fosite.ErrInvalidRequest.WithHint("The client must not use more than one authentication method.")
	}
	return nil
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revocations++
	ctx := r.Context()
	err := r.ParseForm()
	if err == nil {
		err = oneAuthMethod(r)
	}
	if err == nil {
		err = s.provider.NewRevocationRequest(ctx, r)
	}
	s.provider.WriteRevocationResponse(ctx, w, err)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiRequests++
	// Strict, like the APIs of Q07: the scheme must be "Bearer" exactly.
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		unauthorized(w, `Bearer realm="oauthtest"`, "invalid_request")
		return
	}
	_, ar, err := s.provider.IntrospectToken(r.Context(), token, fosite.AccessToken, &fosite.DefaultSession{})
	if err != nil {
		unauthorized(w, `Bearer realm="oauthtest", error="invalid_token"`, "invalid_token")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"sub":       ar.GetSession().GetSubject(),
		"scope":     strings.Join(ar.GetGrantedScopes(), " "),
		"client_id": ar.GetClient().GetID(),
	})
}

// unauthorized answers 401 as RFC 6750 §3 describes.
func unauthorized(w http.ResponseWriter, challenge, code string) {
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
