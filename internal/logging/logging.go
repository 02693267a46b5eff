// Package logging builds actiongate's slog logger, whose handler redacts secrets
// before any line is written: values of type secrets.Secret redact themselves, and
// this handler also redacts any attribute whose key names a credential
// (authorization, cookie, token, secret, code, password, api_key…), at any depth,
// so a careless call site cannot leak one.
package logging

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// Redacted replaces a sensitive value.
const Redacted = "[redacted]"

// New returns a logger writing format ("text" or "json") at level to w.
func New(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(&redactor{next: h})
}

// Sensitive reports whether an attribute or header key names a credential.
func Sensitive(key string) bool {
	k := strings.ToLower(key)
	switch k {
	case "code", "state", "authorization", "proxy-authorization", "cookie", "set-cookie", "password":
		return true
	}
	for _, part := range []string{"token", "secret", "api_key", "apikey", "api-key", "passwd", "credential", "verifier", "master_key"} {
		if strings.Contains(k, part) {
			return true
		}
	}
	return false
}

type redactor struct{ next slog.Handler }

func (r *redactor) Enabled(ctx context.Context, l slog.Level) bool { return r.next.Enabled(ctx, l) }

func (r *redactor) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, rec.Message, rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redact(a))
		return true
	})
	return r.next.Handle(ctx, out)
}

func (r *redactor) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redact(a)
	}
	return &redactor{next: r.next.WithAttrs(red)}
}

func (r *redactor) WithGroup(name string) slog.Handler {
	return &redactor{next: r.next.WithGroup(name)}
}

func redact(a slog.Attr) slog.Attr {
	if Sensitive(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, x := range g {
			red[i] = redact(x)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		if h, ok := v.Any().(http.Header); ok {
			return slog.Any(a.Key, Header(h))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// Header returns a copy of h with credential-bearing headers redacted, for logs
// and for showing a request back to a builder.
func Header(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if Sensitive(k) {
			out[k] = []string{Redacted}
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}
