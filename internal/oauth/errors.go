package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors, found with errors.Is in the errors that Exchange, Refresh
// and Revoke return (each prefixed "oauth: <operation>: "). They are
// terminal: retrying will not help, and neither will signing in again.
var (
	// ErrInvalidResponse means the provider answered success with a body
	// that holds no usable token: not JSON or form-encoded, no access_token,
	// or larger than the read limit.
	ErrInvalidResponse = errors.New("invalid token response")
	// ErrUnsupportedTokenType means the provider issued a token that is not
	// a Bearer token (mac, DPoP, …), which the gateway cannot send (Q07).
	ErrUnsupportedTokenType = errors.New("unsupported token type")
	// ErrNoRevocationURL is returned by Revoke when the configuration has no
	// revocation endpoint.
	ErrNoRevocationURL = errors.New("no revocation_url configured")
)

// Error is an OAuth error answer from the provider (RFC 6749 §5.2, RFC 7009
// §2.2.1), or a failed HTTP status without one. It is also returned for an
// HTTP 200 that carries an error field, or Slack's {"ok": false} (Q02).
//
// Error never holds the response body or any credential: Code is kept only
// if it has the RFC's character set, and Description is cut to a few hundred
// characters, stripped of control characters and scrubbed of the code,
// verifier, tokens and client secret sent in the request.
//
// Failures fall in three classes:
//   - IsTransient: the provider is down, slow or rate limiting (5xx, 429,
//     temporarily_unavailable, server_error, network errors, timeouts).
//     Keep the stored tokens and try later.
//   - IsInvalidGrant: the code or refresh token is dead (invalid_grant). The
//     user must sign in again: mark the connection needs_reauth (after
//     re-reading it, since a sibling may have refreshed, Q09). Never
//     overwrite stored tokens with empties (Q13).
//   - anything else, notably invalid_client (wrong client id or secret),
//     unauthorized_client, unsupported_grant_type and invalid_scope, is a
//     configuration error: signing in again will not fix it and retrying is
//     pointless; the action's builder must.
type Error struct {
	// Code is the "error" field, e.g. "invalid_grant"; empty when the
	// provider answered an error status without a readable one.
	Code string
	// Description is the sanitised "error_description", possibly empty.
	Description string
	// StatusCode is the HTTP status of the answer (200 for Q02 answers).
	StatusCode int
	// Transient reports whether retrying later may succeed.
	Transient bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Code == "" {
		b.WriteString("provider error")
	}
	if e.Description != "" {
		fmt.Fprintf(&b, ": %s", e.Description)
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	return b.String()
}

// IsInvalidGrant reports whether err is the provider's invalid_grant: the
// authorization code or refresh token is invalid, expired, revoked or was
// already used (RFC 6749 §5.2). It is terminal for the grant, so the user
// must sign in again. invalid_client is deliberately not included: it means
// the action's client credentials are wrong, which a new sign-in cannot fix.
func IsInvalidGrant(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == "invalid_grant"
}

// IsTransient reports whether err is worth retrying later with the same
// tokens: network errors, timeouts, HTTP 5xx and 429, and the
// temporarily_unavailable and server_error codes (RFC 6749 §4.1.2.1, Q13).
// A request the caller cancelled is not transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Transient
	}
	var te *transportError
	if errors.As(err, &te) {
		// An error in the chain may say for itself (for example a blocked
		// destination is permanent).
		var t interface{ Transient() bool }
		if errors.As(te.err, &t) {
			return t.Transient()
		}
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// transportError is a failure to send the request or read the answer. Its
// message is that of net/http, which names the URL but no credential: they
// all travel in the body or the Authorization header.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// transientCode reports whether an OAuth error code means "try again later".
func transientCode(code string) bool {
	return code == "temporarily_unavailable" || code == "server_error"
}

// transientStatus reports whether an HTTP status means "try again later".
func transientStatus(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
}

const (
	maxCodeLen        = 64
	maxDescriptionLen = 200
	redactedMark      = "[redacted]"
)

// sanitizeCode keeps an error code only if it is a plausible RFC 6749 code:
// short, printable ASCII without quotes or backslashes (§5.2).
func sanitizeCode(s string) string {
	if s == "" || len(s) > maxCodeLen {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return ""
		}
	}
	return s
}

// sanitizeDescription scrubs every secret from s, replaces control
// characters and invalid UTF-8 with spaces, collapses runs of spaces and
// cuts the result to maxDescriptionLen runes.
func sanitizeDescription(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) < 4 { // shorter values would scrub ordinary words
			continue
		}
		// Also as a provider might echo it from the request body or URL.
		for _, form := range [...]string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			s = strings.ReplaceAll(s, form, redactedMark)
		}
	}
	var b strings.Builder
	n := 0
	space := false
	for i := 0; i < len(s) && n < maxDescriptionLen; {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) {
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
				n++
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
		n++
		if n == maxDescriptionLen && i < len(s) {
			b.WriteString("…")
		}
	}
	return strings.TrimSpace(b.String())
}
