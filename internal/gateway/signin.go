package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/metrics"
	"github.com/actiongate/actiongate/internal/oauth"
	"github.com/actiongate/actiongate/internal/store"
	"github.com/actiongate/actiongate/internal/userid"
)

// SignInTTL is how long a sign-in link, and the state it starts, stay valid.
const SignInTTL = 10 * time.Minute

// signInLink is what a sign-in URL carries, sealed: the link is self-contained
// (no database row), tamper-proof and opaque (the user id is not readable), and
// works on every replica that shares the master key. It can be opened several
// times within its lifetime — chat clients' link previews open links too — and
// each opening starts a fresh single-use state.
type signInLink struct {
	Action  string `json:"a"`
	User    string `json:"u"`
	Expires int64  `json:"e"`
}

const linkAAD = "sign-in-link"

// SignIn is the answer of POST /v1/connect.
type SignIn struct {
	URL       string    `json:"sign_in_url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Connect returns a sign-in link for user and an oauth action.
func (g *Gateway) Connect(ctx context.Context, user, actionID string) (*SignIn, error) {
	if user == "" {
		return nil, apierr.New(apierr.InvalidRequest, "user: required")
	}
	if err := userid.Check(user); err != nil {
		return nil, err
	}
	if actionID == "" {
		return nil, apierr.New(apierr.InvalidRequest, "action: required")
	}
	c, err := g.load(ctx, actionID)
	if err != nil {
		return nil, err
	}
	if c.auth.Type != AuthOAuth {
		return nil, apierr.New(apierr.InvalidRequest, "action: %q does not use oauth", actionID)
	}
	return g.signInLink(c, user)
}

func (g *Gateway) signInLink(c *compiled, user string) (*SignIn, error) {
	exp := g.now().Add(SignInTTL).UTC().Truncate(time.Second)
	b, _ := json.Marshal(signInLink{Action: c.action.ID, User: user, Expires: exp.Unix()})
	ct, err := g.keys.Seal(b, linkAAD)
	if err != nil {
		return nil, err
	}
	return &SignIn{
		URL:       g.publicURL + "/oauth/start?link=" + base64.RawURLEncoding.EncodeToString(ct),
		ExpiresAt: exp,
	}, nil
}

// signInRequired is the error an oauth call answers when the user has no usable
// connection.
func (g *Gateway) signInRequired(c *compiled, user string) error {
	link, err := g.signInLink(c, user)
	if err != nil {
		return err
	}
	domain := c.doc.Domain()
	return &apierr.Error{
		Code:    apierr.SignInRequired,
		Message: "Sign in to " + domain + " to continue: open sign_in_url",
		Extra:   map[string]any{"sign_in_url": link.URL, "domain": domain},
	}
}

// Page is what the sign-in endpoints show the end user's browser.
type Page struct {
	Status  int
	Title   string
	Message string
	Domain  string
	// Retry is true when starting again (asking the assistant for a new link) helps.
	Retry bool
}

// Start is the outcome of opening a sign-in link: a redirect to the provider and
// a cookie that binds the state to this browser.
type Start struct {
	RedirectURL string
	Cookie      *http.Cookie
}

// StartSignIn opens a sign-in link: it creates a fresh single-use state (with
// the PKCE verifier) and returns the provider's authorization URL.
func (g *Gateway) StartSignIn(ctx context.Context, link string) (_ *Start, page *Page) {
	var reason string
	defer func() { g.signInMetric(metrics.SignInStarted, page, reason) }()
	ct, err := base64.RawURLEncoding.DecodeString(link)
	if err != nil || link == "" {
		reason = "bad_link"
		return nil, badLink()
	}
	b, err := g.keys.Open(ct, linkAAD)
	if err != nil {
		reason = "bad_link"
		return nil, badLink()
	}
	var l signInLink
	if json.Unmarshal(b, &l) != nil {
		reason = "bad_link"
		return nil, badLink()
	}
	if g.now().Unix() > l.Expires {
		reason = "link_expired"
		return nil, &Page{Status: http.StatusBadRequest, Title: "This sign-in link has expired",
			Message: "Sign-in links are valid for 10 minutes. Ask the assistant again to get a new one.", Retry: true}
	}
	c, err := g.load(ctx, l.Action)
	if err != nil || c.auth.Type != AuthOAuth {
		reason = "action_gone"
		return nil, &Page{Status: http.StatusNotFound, Title: "This sign-in link is no longer valid",
			Message: "The action it was made for has been removed or changed."}
	}
	cfg, err := g.oauthConfig(c)
	if err != nil {
		g.log.Error("sign-in config", "action", c.action.ID, "err", err)
		reason = "internal"
		return nil, internalPage(c.doc.Domain())
	}
	state := randomToken()
	hash := stateHash(state)
	st := store.SignInState{
		Hash:      hash,
		ActionID:  l.Action,
		User:      l.User,
		ExpiresAt: g.now().Add(SignInTTL).UTC(),
		CreatedAt: g.now().UTC(),
	}
	var verifier string
	if cfg.PKCE {
		verifier = oauth.GenerateVerifier()
		if st.Verifier, err = g.keys.Seal([]byte(verifier), "state:"+hash); err != nil {
			reason = "internal"
			return nil, internalPage(c.doc.Domain())
		}
	}
	if err := g.store.PutSignInState(ctx, st); err != nil {
		g.log.Error("store sign-in state", "action", l.Action, "err", err)
		reason = "internal"
		return nil, internalPage(c.doc.Domain())
	}
	g.log.Info("sign-in started", "action", l.Action)
	return &Start{
		RedirectURL: cfg.AuthCodeURL(g.CallbackURL(), state, verifier),
		Cookie:      g.bindingCookie(hash),
	}, nil
}

// bindingCookie binds a state to the browser that opened the link (RFC 9700
// §4.7.1: CSRF tokens in state bound to the user agent). Its name carries the
// first half of the state's hash, its value the second half.
func (g *Gateway) bindingCookie(hash string) *http.Cookie {
	return &http.Cookie{
		Name:     "ag_state_" + hash[:16],
		Value:    hash[16:48],
		Path:     "/oauth/callback",
		MaxAge:   int(SignInTTL / time.Second),
		HttpOnly: true,
		Secure:   strings.HasPrefix(g.publicURL, "https://"),
		SameSite: http.SameSiteLaxMode, // sent on the provider's top-level redirect back
	}
}

// Callback completes a sign-in: q is the callback's query, cookie looks up the
// browser's cookies by name.
func (g *Gateway) Callback(ctx context.Context, q url.Values, cookie func(name string) string) (page *Page) {
	var reason string
	defer func() { g.signInMetric(metrics.SignInCompleted, page, reason) }()
	state, code, perr := q.Get("state"), q.Get("code"), q.Get("error")
	if state == "" {
		if perr != "" {
			reason = "provider_error"
			return &Page{Status: http.StatusBadRequest, Title: "Sign-in did not complete",
				Message: "The provider reported " + clip(perr) + " without a state, so this sign-in cannot be matched to a request. Ask the assistant for a new link.", Retry: true}
		}
		reason = "no_state"
		return &Page{Status: http.StatusBadRequest, Title: "Sign-in did not complete",
			Message: "The callback has no state parameter. Start again from a new sign-in link.", Retry: true}
	}
	hash := stateHash(state)
	// The browser check needs only the hash, and comes first: a request
	// without the cookie (someone else's browser, a prefetcher) must not use
	// up the state that the user's own browser is about to bring.
	if want := hash[16:48]; subtle.ConstantTimeCompare([]byte(cookie("ag_state_"+hash[:16])), []byte(want)) != 1 {
		// Without the cookie the state is not read, so this page cannot tell an
		// unknown or used state from another browser's.
		reason = "other_browser"
		return &Page{Status: http.StatusBadRequest, Title: "This sign-in cannot finish in this browser",
			Message: "It was started in another browser, or it has expired or was already used. For your safety, sign-in must finish in the browser that opened the link: open the sign-in link again here, or ask the assistant for a new one.", Retry: true}
	}
	st, err := g.store.TakeSignInState(ctx, hash)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			g.log.Error("take sign-in state", "err", err)
			reason = "internal"
			return internalPage("")
		}
		reason = "unknown_state"
		return &Page{Status: http.StatusBadRequest, Title: "This sign-in has expired or was already used",
			Message: "Ask the assistant again to get a new sign-in link.", Retry: true}
	}
	if g.now().After(st.ExpiresAt) {
		reason = "state_expired"
		return &Page{Status: http.StatusBadRequest, Title: "This sign-in has expired",
			Message: "Sign-in must finish within 10 minutes. Ask the assistant again to get a new link.", Retry: true}
	}
	c, err := g.load(ctx, st.ActionID)
	if err != nil || c.auth.Type != AuthOAuth {
		reason = "action_gone"
		return &Page{Status: http.StatusNotFound, Title: "This sign-in is no longer valid",
			Message: "The action it was made for has been removed or changed."}
	}
	domain := c.doc.Domain()
	if perr != "" {
		g.log.Info("sign-in refused by provider", "action", st.ActionID, "error", clip(perr))
		if perr == "access_denied" {
			reason = "access_denied"
			return &Page{Status: http.StatusBadRequest, Domain: domain, Title: "You cancelled signing in to " + domain,
				Message: "Nothing was shared. To use " + domain + ", ask the assistant for a new sign-in link.", Retry: true}
		}
		msg := domain + " reported: " + clip(perr)
		if d := q.Get("error_description"); d != "" {
			msg += " — " + clip(d)
		}
		reason = "provider_error"
		return &Page{Status: http.StatusBadRequest, Domain: domain, Title: "Signing in to " + domain + " failed", Message: msg, Retry: true}
	}
	if code == "" {
		reason = "no_code"
		return &Page{Status: http.StatusBadRequest, Domain: domain, Title: "Signing in to " + domain + " failed",
			Message: "The provider sent neither a code nor an error.", Retry: true}
	}
	cfg, err := g.oauthConfig(c)
	if err != nil {
		reason = "internal"
		return internalPage(domain)
	}
	var verifier string
	if st.Verifier != nil {
		v, err := g.keys.Open(st.Verifier, "state:"+hash)
		if err != nil {
			reason = "internal"
			return internalPage(domain)
		}
		verifier = string(v)
	}
	tok, err := g.oauth.Exchange(ctx, cfg, code, g.CallbackURL(), verifier)
	if err != nil {
		g.log.Warn("token exchange failed", "action", st.ActionID, "err", err)
		reason = "exchange_failed"
		return &Page{Status: http.StatusBadGateway, Domain: domain, Title: "Signing in to " + domain + " failed",
			Message: exchangeMessage(err), Retry: true}
	}
	err = g.saveToken(ctx, st.ActionID, st.User, tok, nil)
	g.creds.forget(st.ActionID, st.User)
	if err != nil {
		g.log.Error("store connection", "action", st.ActionID, "err", err)
		reason = "internal"
		return internalPage(domain)
	}
	g.log.Info("sign-in completed", "action", st.ActionID)
	g.audit(ctx, EventConnectionCreated, st.ActionID, st.User, map[string]any{"scope": tok.Scope})
	return &Page{Status: http.StatusOK, Domain: domain, Title: "Signed in to " + domain,
		Message: "You can close this window and return to the conversation."}
}

func exchangeMessage(err error) string {
	var oe *oauth.Error
	if errors.As(err, &oe) && oe.Code != "" {
		return "The provider refused the sign-in (" + clip(oe.Code) + "). Ask the assistant for a new link and try again."
	}
	return "The provider could not be reached to finish signing in. Ask the assistant for a new link and try again."
}

// saveToken stores a token as the user's connection, replacing any previous one.
// When the response carried no refresh token, prev's (if any) is kept.
func (g *Gateway) saveToken(ctx context.Context, actionID, user string, tok *oauth.Token, prevRefresh []byte) error {
	aad := connAAD(actionID, user)
	at, err := g.keys.SealString(tok.AccessToken, aad+":access")
	if err != nil {
		return err
	}
	rt := prevRefresh
	if !tok.RefreshToken.IsZero() {
		if rt, err = g.keys.SealString(tok.RefreshToken, aad+":refresh"); err != nil {
			return err
		}
	} else if rt == nil {
		// Signing in again without a new refresh token keeps the old one (Q11).
		if old, err := g.store.GetConnection(ctx, actionID, user); err == nil {
			rt = old.RefreshToken
		}
	}
	now := g.now().UTC()
	return g.store.PutConnection(ctx, store.Connection{
		ActionID:     actionID,
		User:         user,
		AccessToken:  at,
		RefreshToken: rt,
		Scope:        tok.Scope,
		ExpiresAt:    tok.ExpiresAt.UTC(),
		Status:       store.StatusConnected,
		CreatedAt:    now,
		UpdatedAt:    now,
	})
}

// signInMetric records a sign-in step: ok (started or completed) unless page
// is an error page, then failed with reason.
func (g *Gateway) signInMetric(ok string, page *Page, reason string) {
	if page != nil && page.Status != http.StatusOK {
		if reason == "" {
			reason = "other"
		}
		g.metrics.SignIn(metrics.SignInFailed, reason)
		return
	}
	g.metrics.SignIn(ok, "")
}

func connAAD(actionID, user string) string { return "conn:" + actionID + ":" + user }

// oauthConfig builds the provider config of an oauth action.
func (g *Gateway) oauthConfig(c *compiled) (*oauth.Config, error) {
	a := c.auth
	cfg := &oauth.Config{
		ClientID:            a.ClientID,
		AuthorizationURL:    a.AuthorizationURL,
		TokenURL:            a.TokenURL,
		RevocationURL:       a.RevocationURL,
		Scope:               a.Scope,
		ExchangeMethod:      a.TokenExchangeMethod,
		ContentType:         a.AuthorizationContentType,
		PKCE:                a.PKCE == nil || *a.PKCE,
		AuthorizationParams: a.AuthorizationParams,
		RefreshScope:        a.RefreshScope,
	}
	if a.TokenPaths != nil {
		cfg.TokenPaths = oauth.TokenPaths(*a.TokenPaths)
	}
	if c.action.Secret != nil {
		s, err := g.keys.OpenString(c.action.Secret, secretAAD(c.action.ID))
		if err != nil {
			return nil, err
		}
		cfg.ClientSecret = s
	}
	return cfg, nil
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func stateHash(state string) string {
	h := sha256.Sum256([]byte(state))
	return hex.EncodeToString(h[:])
}

func badLink() *Page {
	return &Page{Status: http.StatusBadRequest, Title: "This sign-in link is not valid",
		Message: "It may have been copied incompletely. Ask the assistant again to get a new one.", Retry: true}
}

func internalPage(domain string) *Page {
	return &Page{Status: http.StatusInternalServerError, Domain: domain, Title: "Something went wrong",
		Message: "The gateway could not finish this sign-in. Try again in a moment.", Retry: true}
}

// clip bounds provider-supplied text shown on a page.
// clip shortens provider-supplied text to 200 characters (runes, so that a
// multi-byte character is never cut in half).
func clip(s string) string {
	if utf8.RuneCountInString(s) > 200 {
		s = string([]rune(s)[:200]) + "…"
	}
	return s
}

// Connection is a user's connection as the API shows it.
type Connection struct {
	ActionID  string     `json:"action_id"`
	User      string     `json:"user"`
	Status    string     `json:"status"`
	Scope     string     `json:"scope"`
	ExpiresAt *time.Time `json:"expires_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Connections lists a user's connections.
func (g *Gateway) Connections(ctx context.Context, user string) ([]Connection, error) {
	if user == "" {
		return nil, apierr.New(apierr.InvalidRequest, "user: required (?user=…)")
	}
	if err := userid.Check(user); err != nil {
		return nil, err
	}
	cs, err := g.store.ListConnections(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make([]Connection, 0, len(cs))
	for _, c := range cs {
		v := Connection{ActionID: c.ActionID, User: c.User, Status: c.Status, Scope: c.Scope, UpdatedAt: c.UpdatedAt}
		if !c.ExpiresAt.IsZero() {
			t := c.ExpiresAt
			v.ExpiresAt = &t
		}
		out = append(out, v)
	}
	return out, nil
}

// Disconnect deletes a user's connection. When the action has a revocation URL,
// the tokens are revoked at the provider first (RFC 7009), best effort: the
// local deletion happens whatever the provider answers.
func (g *Gateway) Disconnect(ctx context.Context, actionID, user string) error {
	if err := userid.Check(user); err != nil {
		return err
	}
	conn, err := g.store.GetConnection(ctx, actionID, user)
	if err != nil {
		return storeErr(err, "connection for action %q and user %q", actionID, user)
	}
	if c, err := g.load(ctx, actionID); err == nil && c.auth.RevocationURL != "" {
		g.revoke(ctx, c, conn)
	}
	err = g.store.DeleteConnection(ctx, actionID, user)
	g.creds.forget(actionID, user)
	if err != nil {
		return storeErr(err, "connection for action %q and user %q", actionID, user)
	}
	g.log.Info("connection deleted", "action", actionID)
	g.audit(ctx, EventConnectionRevoked, actionID, user, nil)
	return nil
}

func (g *Gateway) revoke(ctx context.Context, c *compiled, conn store.Connection) {
	cfg, err := g.oauthConfig(c)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	aad := connAAD(conn.ActionID, conn.User)
	if conn.RefreshToken != nil {
		if rt, err := g.keys.OpenString(conn.RefreshToken, aad+":refresh"); err == nil {
			if err := g.oauth.Revoke(ctx, cfg, rt, "refresh_token"); err != nil {
				g.log.Warn("revoking refresh token failed", "action", conn.ActionID, "err", err)
			}
		}
	}
	if at, err := g.keys.OpenString(conn.AccessToken, aad+":access"); err == nil {
		if err := g.oauth.Revoke(ctx, cfg, at, "access_token"); err != nil {
			g.log.Warn("revoking access token failed", "action", conn.ActionID, "err", err)
		}
	}
}
