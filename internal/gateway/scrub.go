package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/actiongate/actiongate/internal/secrets"
)

// Some APIs echo what they were sent: a debugging endpoint returns the request
// headers, a redirect's Location repeats the query string with the api_key in
// it. The model must never see the credential the gateway added, so every
// form in which it was sent is replaced in the answer before it goes back.

// redactedValue replaces a credential found in an answer.
const redactedValue = "[redacted]"

// minScrubLen: credentials shorter than this are not searched for, as they
// would match ordinary text (no real API key or token is this short).
const minScrubLen = 8

// credentialForms lists the spellings of cred that can appear in an answer:
// as sent, query-escaped, path-escaped, and as the Basic header's base64.
func credentialForms(cred secrets.Secret) []string {
	v := cred.Reveal()
	if len(v) < minScrubLen {
		return nil
	}
	forms := []string{v}
	add := func(f string) {
		for _, have := range forms {
			if have == f {
				return
			}
		}
		forms = append(forms, f)
	}
	add(url.QueryEscape(v))
	add(url.PathEscape(v))
	add(strings.TrimPrefix(basicValue(v), "Basic "))
	return forms
}

// scrubString replaces every form in s.
func scrubString(s string, forms []string) string {
	for _, f := range forms {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, redactedValue)
		}
	}
	return s
}

// scrubHeaders replaces the credential in response headers, in place.
func scrubHeaders(h http.Header, cred secrets.Secret) {
	forms := credentialForms(cred)
	if forms == nil {
		return
	}
	for k, vv := range h {
		for i, v := range vv {
			if s := scrubString(v, forms); s != v {
				h[k][i] = s
			}
		}
	}
}

// scrubResult replaces the credential in an invoke result's headers and
// body. A base64 body (binary) is left as it is.
func scrubResult(r *Result, cred secrets.Secret) {
	forms := credentialForms(cred)
	if forms == nil {
		return
	}
	for k, v := range r.Headers {
		r.Headers[k] = scrubString(v, forms)
	}
	switch b := r.Body.(type) {
	case string:
		if r.BodyEncoding == "" {
			r.Body = scrubString(b, forms)
		}
	case json.RawMessage:
		// A credential inside a JSON string is replaced by text that needs no
		// escaping, so the document stays valid.
		if s := scrubString(string(b), forms); s != string(b) {
			if json.Valid([]byte(s)) {
				r.Body = json.RawMessage(s)
			} else {
				r.Body = s
			}
		}
	}
}
