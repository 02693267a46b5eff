// Package console is actiongate's web console at /ui: server-rendered
// html/template pages, progressively enhanced by one small script, with every
// template, stylesheet and script embedded in the binary.
//
// An administrator signs in with an admin-scoped API token. The token is
// checked once (apitoken.Service.Authenticate) and never stored: the browser
// gets a random session id in an HttpOnly, SameSite=Strict cookie (Secure when
// the public URL is https), and the server keeps the session — the token's id,
// a CSRF synchronizer token, idle and absolute expiry — in memory. Every
// state-changing request must carry the session's CSRF token (a form field, or
// the X-CSRF-Token header for the script's fetches) and pass net/http's
// cross-origin check.
//
// The console calls the gateway and the token service directly, as the HTTP
// API does; it adds no behaviour of its own. See docs/console.md.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/apitoken"
	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/store"
)

// Prefix is where the console is mounted.
const Prefix = "/ui/"

// Options configure the console.
type Options struct {
	Gateway *gateway.Gateway
	Tokens  *apitoken.Service
	Logger  *slog.Logger
	// Now is for tests; default time.Now.
	Now func() time.Time
}

// Console is the web console's handler, for every path under Prefix.
type Console struct {
	gw       *gateway.Gateway
	tokens   *apitoken.Service
	log      *slog.Logger
	now      func() time.Time
	secure   bool
	sessions *sessions
	limiter  *loginLimiter
	cop      *http.CrossOriginProtection
	mux      *http.ServeMux
}

var _ http.Handler = (*Console)(nil)

// New returns the console.
func New(o Options) *Console {
	c := &Console{gw: o.Gateway, tokens: o.Tokens, log: o.Logger, now: o.Now, cop: http.NewCrossOriginProtection(), mux: http.NewServeMux()}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	// The OAuth callback lives on the public URL, so its scheme is the console's.
	c.secure = strings.HasPrefix(c.gw.CallbackURL(), "https://")
	c.sessions = newSessions(c.now)
	c.limiter = &loginLimiter{now: c.now}

	m := c.mux
	m.HandleFunc("GET /ui/static/{file}", serveStatic)
	m.HandleFunc("GET /ui/login", c.loginPage)
	m.HandleFunc("POST /ui/login", c.login)
	m.Handle("POST /ui/logout", c.page(c.logout))
	m.Handle("GET /ui/{$}", c.page(func(w http.ResponseWriter, r *http.Request) error {
		http.Redirect(w, r, "/ui/actions", http.StatusSeeOther)
		return nil
	}))
	m.Handle("GET /ui/actions", c.page(c.listActions))
	m.Handle("GET /ui/actions/new", c.page(c.newAction))
	m.Handle("POST /ui/actions/new", c.page(c.createAction))
	m.Handle("GET /ui/actions/{id}", c.page(c.editAction))
	m.Handle("POST /ui/actions/{id}", c.page(c.updateAction))
	m.Handle("GET /ui/actions/{id}/delete", c.page(c.confirmDelete))
	m.Handle("POST /ui/actions/{id}/delete", c.page(c.deleteAction))
	// What the API allows only with the invoke scope needs it here too.
	invoke := func(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
		return c.page(needs(store.ScopeInvoke, h))
	}
	m.Handle("GET /ui/actions/{id}/test", invoke(c.testPage))
	m.Handle("POST /ui/actions/{id}/test", invoke(c.runTest))
	m.Handle("GET /ui/connections", invoke(c.connections))
	m.Handle("POST /ui/connections/revoke", invoke(c.revokeConnection))
	m.Handle("GET /ui/tokens", c.page(c.listTokens))
	m.Handle("POST /ui/tokens", c.page(c.createToken))
	m.Handle("POST /ui/tokens/{id}/revoke", c.page(c.revokeToken))
	m.Handle("GET /ui/audit", c.page(c.audit))
	m.Handle("/ui/", c.page(func(w http.ResponseWriter, r *http.Request) error {
		return apierr.New(apierr.NotFound, "There is no page at %s.", r.URL.Path)
	}))
	return c
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	c.mux.ServeHTTP(w, r)
}

// csp allows the console's own stylesheet and script and nothing else: no
// inline script or style, no framing, forms and fetches to this origin only.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// maxForm caps a console request body: an 8 MiB document plus the rest.
const maxForm = gateway.MaxSchemaBytes*2 + 1<<20

// page wraps a signed-in page: session from the cookie (else to sign-in), the
// token looked up again now and then, CSRF checks on POST, the actor for the
// audit log, and error rendering.
func (c *Console) page(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := c.session(r)
		if sess != nil && sess.tokenID != apitoken.BootstrapID && c.sessions.needsCheck(sess) && !c.tokenLive(r, sess.tokenID) {
			c.sessions.end(sess)
			sess = nil
		}
		if sess == nil {
			next := ""
			if r.Method == http.MethodGet {
				next = r.URL.RequestURI()
			}
			c.redirect(w, r, loginURL(next))
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := c.cop.Check(r); err != nil {
				c.renderError(w, r, sess, apierr.New(apierr.Forbidden, "This request came from another site and was refused."))
				return
			}
			if !validCSRF(r, sess) {
				c.renderError(w, r, sess, apierr.New(apierr.Forbidden, "This form has expired. Reload the page and try again."))
				return
			}
		}
		ctx := withSession(gateway.WithActor(r.Context(), sess.tokenID), sess)
		if err := h(w, r.WithContext(ctx)); err != nil {
			c.renderError(w, r, sess, err)
		}
	})
}

// needs refuses a page to a session whose token lacks scope. (Every session
// has admin: sign-in requires it.)
func needs(scope string, h func(w http.ResponseWriter, r *http.Request) error) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !slices.Contains(sessionFrom(r.Context()).scopes, scope) {
			return apierr.New(apierr.Forbidden, "The token you signed in with lacks the %q scope this page needs.", scope)
		}
		return h(w, r)
	}
}

func (c *Console) session(r *http.Request) *session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	return c.sessions.get(ck.Value)
}

// tokenLive reports whether a signed-in token is still valid (not revoked,
// not expired).
func (c *Console) tokenLive(r *http.Request, id string) bool {
	ts, err := c.tokens.List(r.Context())
	if err != nil {
		c.log.Error("console: list tokens", "err", err)
		return false
	}
	i := slices.IndexFunc(ts, func(t *apitoken.Token) bool { return t.ID == id })
	if i < 0 {
		return false
	}
	t := ts[i]
	return t.RevokedAt == nil && (t.ExpiresAt == nil || c.now().Before(*t.ExpiresAt)) && slices.Contains(t.Scopes, store.ScopeAdmin)
}

func loginURL(next string) string {
	if next == "" || next == "/ui/" {
		return "/ui/login"
	}
	return "/ui/login?next=" + url.QueryEscape(next)
}

// safeNext accepts only a path inside the console as where to go after
// sign-in (no open redirect).
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "/ui//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/actions"
	}
	return next
}

// fetchHeader marks the console script's own requests: their redirects are
// answered as 204 with fetchLocation, which the script follows itself, so a
// flash message is not used up by fetch's automatic redirect.
const (
	fetchHeader   = "X-Console-Fetch"
	fetchLocation = "X-Console-Location"
)

func (c *Console) redirect(w http.ResponseWriter, r *http.Request, to string) {
	if r.Header.Get(fetchHeader) != "" {
		w.Header().Set(fetchLocation, to)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// view is what every page template gets.
type view struct {
	Title    string
	Nav      string // the highlighted section
	CSRF     string
	SignedIn bool
	Flash    string
	Error    *apierr.Error
	Page     any
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	if sess := sessionFrom(r.Context()); sess != nil {
		v.SignedIn, v.CSRF = true, sess.csrf
		if v.Flash == "" {
			v.Flash = c.sessions.takeFlash(sess)
		}
	}
	t, ok := pages[name]
	if !ok {
		panic("console: no template " + name)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, "layout", v); err != nil {
		c.log.Error("console: render", "page", name, "err", err)
	}
}

// renderError shows a page for an error no form could show.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	e := apierr.From(err)
	if e.Code == apierr.Internal {
		c.log.Error("console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if sess != nil && sessionFrom(r.Context()) == nil {
		r = r.WithContext(withSession(r.Context(), sess))
	}
	title := "Something went wrong"
	switch e.Code {
	case apierr.NotFound:
		title = "Not found"
	case apierr.Forbidden:
		title = "Not allowed"
	case apierr.Internal:
		e = &apierr.Error{Code: apierr.Internal, Message: "The gateway could not complete this request. The server log has the details."}
	}
	c.render(w, r, e.Status(), "error.html", view{Title: title, Error: e})
}

// Templates and static assets, embedded.

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds one template set per page: the shared layout and partials plus
// the page's own "content".
var pages = map[string]*template.Template{}

// assetVersion busts caches when the embedded assets change.
var assetVersion string

func init() {
	h := sha256.New()
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := staticFS.ReadFile(p)
			h.Write(b)
		}
		return err
	})
	assetVersion = hex.EncodeToString(h.Sum(nil))[:12]

	funcs := template.FuncMap{
		"asset": func(name string) string { return "/ui/static/" + name + "?v=" + assetVersion },
		"when":  when,
		"join":  strings.Join,
		"copy": func(id, label, value string) copyField {
			return copyField{ID: id, Label: label, Value: value}
		},
		"rerun": func(p *testView, csrf, args string, confirmed bool, label, id string) rerunForm {
			return rerunForm{Action: p.Action.ID, CSRF: csrf, Op: p.Op.ID, User: p.User, Args: args, Confirmed: confirmed, Label: label, ButtonID: id}
		},
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" || base == "partials.html" {
			continue
		}
		pages[base] = template.Must(template.New(base).Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/partials.html", n))
	}
}

// copyField is a read-only value with a copy button.
type copyField struct{ ID, Label, Value string }

// rerunForm runs an operation again with the same arguments (after sign-in,
// or confirmed).
type rerunForm struct {
	Action, CSRF, Op, User, Args, Label, ButtonID string
	Confirmed                                     bool
}

// when formats a time for people; nil or zero is "—".
func when(t any) string {
	var tt time.Time
	switch v := t.(type) {
	case time.Time:
		tt = v
	case *time.Time:
		if v != nil {
			tt = *v
		}
	case string:
		p, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return v
		}
		tt = p
	}
	if tt.IsZero() {
		return "—"
	}
	return tt.UTC().Format("2006-01-02 15:04:05 UTC")
}

func serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	if r.URL.Query().Get("v") == assetVersion {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	_, _ = w.Write(b)
}

// asAPIError is errors.As for *apierr.Error.
func asAPIError(err error) (*apierr.Error, bool) {
	var e *apierr.Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}
