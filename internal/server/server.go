// Package server is actiongate's HTTP layer: it routes the contract's endpoints,
// checks API tokens, decodes and validates JSON, calls the gateway and writes
// answers and errors in the contract's shape. It holds no business logic.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/gateway"
)

// Pinger reports whether the database is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options configure the handler.
type Options struct {
	Gateway *gateway.Gateway
	DB      Pinger
	// AdminTokenHash is the SHA-256 of the admin API token.
	AdminTokenHash [32]byte
	Logger         *slog.Logger
	// MaxRequestBytes caps a /v1 request body (default 16 MiB).
	MaxRequestBytes int64
	// TokenRate and UserRate are requests per second allowed per API token and
	// per end user (0: no limit); bursts default to twice the rate.
	TokenRate, UserRate float64
}

// Server is the HTTP handler.
type Server struct {
	gw      *gateway.Gateway
	db      Pinger
	admin   [32]byte
	log     *slog.Logger
	maxBody int64
	mux     *http.ServeMux
	perTok  *limiters
	perUser *limiters
}

var _ http.Handler = (*Server)(nil)

// New returns the handler with every route.
func New(o Options) *Server {
	s := &Server{gw: o.Gateway, db: o.DB, admin: o.AdminTokenHash, log: o.Logger, maxBody: o.MaxRequestBytes, mux: http.NewServeMux(),
		perTok: newLimiters(o.TokenRate, 0), perUser: newLimiters(o.UserRate, 0)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = 16 << 20
	}
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	m.HandleFunc("GET /readyz", s.ready)

	m.Handle("POST /v1/actions", s.api(s.createAction))
	m.Handle("GET /v1/actions", s.api(s.listActions))
	m.Handle("GET /v1/actions/{id}", s.api(s.getAction))
	m.Handle("PUT /v1/actions/{id}", s.api(s.updateAction))
	m.Handle("DELETE /v1/actions/{id}", s.api(s.deleteAction))
	m.Handle("POST /v1/actions/{id}/invoke", s.api(s.invoke))
	m.Handle("POST /v1/connect", s.api(s.connect))
	m.Handle("GET /v1/connections", s.api(s.listConnections))
	m.Handle("DELETE /v1/connections/{action_id}/{user}", s.api(s.deleteConnection))
	m.Handle("/v1/proxy/{action_id}/{path...}", s.api(s.proxy))
	m.Handle("/v1/", s.api(func(w http.ResponseWriter, r *http.Request) error {
		return apierr.New(apierr.NotFound, "no endpoint %s %s", r.Method, r.URL.Path)
	}))

	m.HandleFunc("GET /oauth/start", s.startSignIn)
	m.HandleFunc("GET /oauth/callback", s.callback)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
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

// api wraps a /v1 handler: token check, body cap, error rendering.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="actiongate"`)
			s.writeErr(w, r, apierr.New(apierr.Unauthorized, "missing or wrong API token (Authorization: Bearer <token>)"))
			return
		}
		if err := s.perTok.allow("admin", "API token"); err != nil {
			s.writeErr(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
		if err := h(w, r); err != nil {
			s.writeErr(w, r, err)
		}
	})
}

// authorized checks the bearer token in constant time (comparing hashes, so the
// token's length does not leak either).
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], s.admin[:]) == 1
}

func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	e := apierr.From(err)
	if ra, ok := e.Extra["retry_after"].(int); ok && e.Code == apierr.RateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(ra))
	}
	if e.Code == apierr.Internal {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else if e.Cause != nil {
		s.log.Info("request refused", "method", r.Method, "path", r.URL.Path, "code", e.Code, "err", e.Cause)
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
			return apierr.New(apierr.InvalidRequest, "request body: malformed JSON at byte %d", se.Offset)
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "request body"
			}
			return apierr.New(apierr.InvalidRequest, "%s: must be %s, not %s", field, jsonKind(te.Type.Kind().String()), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return apierr.New(apierr.InvalidRequest, "request body: unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
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
