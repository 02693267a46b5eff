// Package server is actiongate's HTTP layer: it routes the contract's endpoints,
// checks API tokens, decodes and validates JSON, calls the gateway and writes
// answers and errors in the contract's shape. It holds no business logic.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/apitoken"
	"github.com/actiongate/actiongate/internal/console"
	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/metrics"
	"github.com/actiongate/actiongate/internal/store"
	"github.com/actiongate/actiongate/internal/userid"
)

// Pinger reports whether the database is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options configure the handler.
type Options struct {
	Gateway *gateway.Gateway
	DB      Pinger
	// Tokens checks API tokens. When nil, only AdminTokenHash is accepted.
	Tokens *apitoken.Service
	// AdminTokenHash is the SHA-256 of the bootstrap admin token (used when
	// Tokens is nil).
	AdminTokenHash [32]byte
	Logger         *slog.Logger
	// MaxRequestBytes caps a /v1 request body (default 16 MiB).
	MaxRequestBytes int64
	// TokenRate and UserRate are requests per second allowed per API token and
	// per end user (0: no limit); bursts default to twice the rate.
	TokenRate, UserRate float64
	// BodyTimeout bounds how long reading a request body may take (default
	// DefaultBodyTimeout), so that a client trickling a body cannot hold a
	// connection and a goroutine for ever.
	BodyTimeout time.Duration
	// Metrics are served at GET /metrics (metrics.go); nil: not served.
	Metrics *metrics.Metrics
	// MetricsToken, when set, is required as a bearer token on /metrics.
	MetricsToken string
}

// Server is the HTTP handler.
type Server struct {
	gw      *gateway.Gateway
	db      Pinger
	tokens  *apitoken.Service
	log     *slog.Logger
	maxBody int64
	bodyTO  time.Duration
	// streams ends with CloseStreams: long-lived MCP streams follow it.
	streams      context.Context
	closeStreams context.CancelFunc
	mux          *http.ServeMux
	proxyRoute   http.Handler // /v1/proxy/, served before the mux
	perTok       *limiters
	perUser      *limiters
	metrics      *metrics.Metrics
}

var _ http.Handler = (*Server)(nil)

// New returns the handler with every route.
func New(o Options) *Server {
	if o.Tokens == nil {
		o.Tokens = apitoken.New(noTokens{}, o.AdminTokenHash, nil)
	}
	s := &Server{gw: o.Gateway, db: o.DB, tokens: o.Tokens, log: o.Logger, maxBody: o.MaxRequestBytes, mux: http.NewServeMux(),
		perTok: newLimiters(o.TokenRate, 0), perUser: newLimiters(o.UserRate, 0)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.streams, s.closeStreams = context.WithCancel(context.Background())
	s.bodyTO = o.BodyTimeout
	if s.bodyTO <= 0 {
		s.bodyTO = DefaultBodyTimeout
	}
	if s.maxBody <= 0 {
		s.maxBody = 16 << 20
	}
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	m.HandleFunc("GET /readyz", s.ready)
	s.routeMetrics(o)

	admin, invoke := store.ScopeAdmin, store.ScopeInvoke
	m.Handle("POST /v1/actions", s.api(admin, s.createAction))
	m.Handle("GET /v1/actions", s.api(admin, s.listActions))
	m.Handle("GET /v1/actions/{id}", s.api(admin, s.getAction))
	m.Handle("PUT /v1/actions/{id}", s.api(admin, s.updateAction))
	m.Handle("DELETE /v1/actions/{id}", s.api(admin, s.deleteAction))
	m.Handle("POST /v1/actions/{id}/invoke", s.api(invoke, s.invoke))
	m.Handle("POST /v1/connect", s.api(invoke, s.connect))
	m.Handle("GET /v1/connections", s.api(invoke, s.listConnections))
	m.Handle("DELETE /v1/connections/{action_id}/{user}", s.api(invoke, s.deleteConnection))
	// /v1/proxy/{action_id}/{path...}, split by s.proxy; ServeHTTP sends it
	// there before the mux would clean the path.
	s.proxyRoute = s.api(invoke, s.proxy)
	m.Handle("GET /v1/tools", s.api(invoke, s.listTools))
	m.Handle("POST /v1/tools/call", s.api(invoke, s.callTool))
	m.Handle("/mcp", s.mcpHandler())
	m.Handle("POST /v1/tokens", s.api(admin, s.createToken))
	m.Handle("GET /v1/tokens", s.api(admin, s.listTokens))
	m.Handle("DELETE /v1/tokens/{id}", s.api(admin, s.revokeToken))
	m.Handle("GET /v1/audit", s.api(admin, s.listAudit))
	m.Handle("POST /v1/keys/rotate", s.api(admin, s.rotateKeys))
	m.Handle("/v1/", s.api("", s.noRoute))
	m.Handle("/v1", s.api("", s.noRoute)) // not a redirect to /v1/

	m.HandleFunc("GET /oauth/start", s.startSignIn)
	m.HandleFunc("GET /oauth/callback", s.callback)
	m.Handle(console.Prefix, console.New(console.Options{Gateway: s.gw, Tokens: s.tokens, Logger: s.log}))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	r.Body = s.bodyDeadline(w, r) // every route: /v1, /mcp, /ui, /oauth
	if p := r.URL.Path; strings.HasPrefix(p, "/v1/") {
		if strings.HasPrefix(p, proxyPrefix) {
			// Not through the mux, which would redirect a path with "//"
			// or dot segments to its cleaned form: the proxy forwards the
			// path as written and refuses dot segments itself.
			r.Pattern = proxyPrefix
			s.proxyRoute.ServeHTTP(w, r)
			return
		}
		if ep := r.URL.EscapedPath(); ep != cleanPath(ep) { // escaped: a user id "a/b" is %2F, one segment
			// The mux would answer a redirect with no body; an API client
			// (a missing id in $ID, say) is better told what is wrong.
			s.writeErr(w, r, apierr.New(apierr.NotFound,
				"no endpoint %s %s: the path has an empty or dot segment (is an id missing?)", r.Method, p))
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

const proxyPrefix = "/v1/proxy/"

// checkQuery refuses a query string that url.ParseQuery would not read whole
// (a ";" separator, a bad %-escape), without building the map it would.
func checkQuery(q string) error {
	if strings.IndexByte(q, ';') >= 0 {
		return apierr.New(apierr.InvalidRequest, "query string: \";\" is not a separator (use \"&\", or escape it as %%3B)")
	}
	for i := strings.IndexByte(q, '%'); i >= 0; i = strings.IndexByte(q, '%') {
		if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
			bad := q[i:min(i+3, len(q))]
			return apierr.New(apierr.InvalidRequest, "query string: invalid URL escape %q", bad)
		}
		q = q[i+3:]
	}
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// cleanPath is path.Clean keeping a trailing slash, as the mux compares.
func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// noRoute answers a /v1 path no route serves: 405 with Allow when the path
// is served for other methods, else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.WithContext(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/v1/" && pattern != "/v1" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return apierr.New(apierr.MethodNotAllowed, "%s %s: this endpoint takes %s", r.Method, r.URL.Path, strings.Join(allow, ", "))
	}
	return apierr.New(apierr.NotFound, "no endpoint %s %s", r.Method, r.URL.Path)
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		s.log.Warn("readiness: database unreachable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	writeJSON(w, 200, map[string]string{"status": "ok"})
}

// api wraps a /v1 handler: token check and scope, rate limit, body cap, error
// rendering. The principal goes into the request context.
func (s *Server) api(scope string, h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		outcome := metrics.OutcomeOK
		defer func() { s.metrics.Request(r.Pattern, outcome) }()
		fail := func(err error) { outcome = apierr.From(err).Code; s.writeErr(w, r, err) }
		p, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="actiongate"`)
			fail(err)
			return
		}
		if scope != "" && !p.Can(scope) {
			fail(apierr.New(apierr.Forbidden, "this API token lacks the %q scope", scope))
			return
		}
		if err := s.perTok.allow(p.TokenID, "API token"); err != nil {
			fail(err)
			return
		}
		// r.URL.Query() drops what it cannot parse: a filter with a bad escape
		// would silently match everything, and the proxy (httputil.ReverseProxy)
		// would forward the query without those pairs.
		if err := checkQuery(r.URL.RawQuery); err != nil {
			fail(err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
		ctx := context.WithValue(gateway.WithActor(r.Context(), p.TokenID), principalKey{}, p)
		if err := h(w, r.WithContext(ctx)); err != nil {
			fail(err)
		}
	})
}

type principalKey struct{}

func principal(r *http.Request) *apitoken.Principal {
	p, _ := r.Context().Value(principalKey{}).(*apitoken.Principal)
	return p
}

// authenticate reads the bearer token; the comparison is by hash, in constant
// time for the bootstrap token.
func (s *Server) authenticate(r *http.Request) (*apitoken.Principal, error) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, apierr.New(apierr.Unauthorized, "missing or wrong API token (Authorization: Bearer <token>)")
	}
	return s.tokens.Authenticate(r.Context(), strings.TrimSpace(tok))
}

// forUser resolves the end user a request acts for: a token bound to a user
// can act only for that user (and names it when the request does not).
func forUser(r *http.Request, user string) (string, error) {
	if err := checkUser(user); err != nil {
		return "", err
	}
	p := principal(r)
	if p == nil || p.User == "" {
		return user, nil
	}
	if user != "" && user != p.User {
		return "", apierr.New(apierr.Forbidden, "this API token may act only for its own user")
	}
	return p.User, nil
}

// checkUser is userid.Check (the same check the gateway and API tokens make).
func checkUser(user string) error { return userid.Check(user) }

// noTokens is the token store of a server built without one.
type noTokens struct{}

func (noTokens) CreateToken(context.Context, store.Token) error { return errors.New("no token store") }
func (noTokens) GetTokenByHash(context.Context, []byte) (store.Token, error) {
	return store.Token{}, store.ErrNotFound
}
func (noTokens) ListTokens(context.Context) ([]store.Token, error)    { return nil, nil }
func (noTokens) RevokeToken(context.Context, string, time.Time) error { return store.ErrNotFound }

func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	e := apierr.From(err)
	if ra, ok := e.Extra["retry_after"].(int); ok && e.Code == apierr.RateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(ra))
	}
	if e.Code == apierr.Internal {
		logged := err
		if e.Cause != nil {
			logged = fmt.Errorf("%s: %w", e.Message, e.Cause)
		}
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", logged)
	} else if e.Cause != nil {
		s.log.Info("request refused", "method", r.Method, "path", r.URL.Path, "error_code", e.Code, "err", e.Cause)
	}
	writeJSON(w, e.Status(), e.Body())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decode reads one JSON object into v, rejecting unknown fields, trailing data
// and oversize bodies with an invalid_request that says what was wrong.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	dec.UseNumber() // arguments keep their digits: 1234567890123456789 is not a float64
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return apierr.New(apierr.PayloadTooLarge, "request body is larger than %d bytes", mbe.Limit)
		case errors.Is(err, io.EOF):
			return apierr.New(apierr.InvalidRequest, "request body: a JSON object is required")
		case errors.As(err, &se):
			return apierr.New(apierr.InvalidRequest, "request body: malformed JSON at byte %d: %s", se.Offset, se.Error())
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "request body"
			}
			kind := te.Type.Kind().String()
			if lit, ok := strings.CutPrefix(te.Value, "number "); ok {
				// A number that does not fit: a fraction for a whole number, or
				// beyond the range.
				if len(lit) > 40 {
					lit = lit[:40] + "…"
				}
				if strings.HasPrefix(kind, "int") || strings.HasPrefix(kind, "uint") {
					return apierr.New(apierr.InvalidRequest, "%s: must be a whole number in range, not %s", field, lit)
				}
				return apierr.New(apierr.InvalidRequest, "%s: %s is out of range", field, lit)
			}
			return apierr.New(apierr.InvalidRequest, "%s: must be %s, not %s", field, jsonKind(kind), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return apierr.New(apierr.InvalidRequest, "request body: unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return apierr.New(apierr.InvalidRequest, "request body: the JSON ends too early (a missing } or \"?)")
		}
		return apierr.New(apierr.InvalidRequest, "request body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return apierr.New(apierr.InvalidRequest, "request body: unexpected data after the JSON object")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	}
	if strings.HasPrefix(k, "int") || strings.HasPrefix(k, "uint") || strings.HasPrefix(k, "float") {
		return "a number"
	}
	return fmt.Sprintf("of type %s", k)
}

// DefaultBodyTimeout is how long a request body may take to arrive.
const DefaultBodyTimeout = time.Minute

// bodyDeadline sets a read deadline for the request's body, and lifts it once
// the body has been read: a deadline left on the connection would end a
// response that streams for longer (an event stream, a large download). It is
// not http.Server.ReadTimeout for that reason. Requests without a body get no
// deadline.
func (s *Server) bodyDeadline(w http.ResponseWriter, r *http.Request) io.ReadCloser {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return r.Body
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(s.bodyTO)) != nil {
		return r.Body // not supported by this ResponseWriter (tests' recorders)
	}
	return &deadlineBody{ReadCloser: r.Body, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
}

type deadlineBody struct {
	io.ReadCloser
	lift   func()
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.lifted {
		b.lifted = true
		b.lift()
	}
	return n, err
}

// CloseStreams ends the MCP streams that stay open between calls (a client's
// GET stream for server messages), so that a graceful shutdown does not wait
// for them: register it with http.Server.RegisterOnShutdown. Calls in flight
// are not affected; clients reconnect to another replica or after the restart.
func (s *Server) CloseStreams() { s.closeStreams() }
