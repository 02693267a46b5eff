// Package logging builds actiongate's slog logger, whose handler redacts secrets
// before any line is written: values of type secrets.Secret redact themselves, and
// this handler also redacts any attribute whose key names a credential
// (authorization, cookie, token, secret, code, password, api_key…), at any depth,
// so a careless call site cannot leak one.
package logging

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
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
		switch x := v.Any().(type) {
		case http.Header:
			return slog.Any(a.Key, Header(x))
		case error:
			return slog.String(a.Key, Error(x))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// Error renders err for a log line with the query string and user info of any
// URL it carries removed: Go's *url.Error repeats the whole request URL, where
// an API key may sit in the query.
func Error(err error) string {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) && ue.URL != "" {
		msg = strings.ReplaceAll(msg, ue.URL, SafeURL(ue.URL))
		msg = strings.ReplaceAll(msg, strconv.Quote(ue.URL), strconv.Quote(SafeURL(ue.URL)))
	}
	return msg
}

// SafeURL returns raw without its query, fragment and user info.
func SafeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "[redacted]"
	}
	u.Fragment = ""
	return u.String()
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
