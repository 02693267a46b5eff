package gateway

import (
	"bytes"
	"encoding/json"
	"io"
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

// maskBody wraps a proxied answer's body so that every form of the credential
// is overwritten with '*' as it streams: the same length, so Content-Length
// stays true, and nothing is held back but a tail that may begin a form. A compressed
// body (Content-Encoding other than identity) cannot be searched and is
// passed as it is.
func maskBody(resp *http.Response, cred secrets.Secret) {
	forms := credentialForms(cred)
	if forms == nil || resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		return
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return
	}
	m := &maskReader{ReadCloser: resp.Body}
	for _, f := range forms {
		m.forms = append(m.forms, []byte(f))
	}
	resp.Body = m
}

// maskReader overwrites credential forms in a stream, in the caller's buffer.
// It holds back a tail of what it has read only when that tail may be the
// start of a form that the next read completes.
type maskReader struct {
	io.ReadCloser
	forms [][]byte
	pend  []byte // a masked tail held back, to go first into the next read
	err   error  // the underlying reader's, returned once pend is given out
}

func (m *maskReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if m.err != nil { // the end: what is held back can be no form now
			if len(m.pend) == 0 {
				return 0, m.err
			}
			n := copy(p, m.pend)
			m.pend = m.pend[n:]
			return n, nil
		}
		buf := p
		if len(buf) <= len(m.pend) { // too small for the held tail and more
			buf = make([]byte, len(m.pend)+512)
		}
		k := copy(buf, m.pend)
		n, err := m.ReadCloser.Read(buf[k:])
		n += k
		m.pend = m.pend[:0]
		maskInPlace(buf[:n], m.forms)
		hold := 0
		if err != nil {
			m.err = err
		} else {
			hold = partialTail(buf[:n], m.forms)
		}
		m.pend = append(m.pend, buf[n-hold:n]...)
		if n -= hold; n > 0 {
			if &buf[0] != &p[0] { // the small-buffer case: give out what fits, keep the rest
				c := copy(p, buf[:n])
				m.pend = append(append([]byte(nil), buf[c:n]...), m.pend...)
				return c, nil
			}
			return n, nil
		}
	}
}

// partialTail is the length of the longest end of b that is the beginning of
// a form (shorter than the whole form).
func partialTail(b []byte, forms [][]byte) int {
	best := 0
	for _, f := range forms {
		for k := min(len(f)-1, len(b)); k > best; k-- {
			if bytes.HasSuffix(b, f[:k]) {
				best = k
				break
			}
		}
	}
	return best
}

func maskInPlace(b []byte, forms [][]byte) {
	for _, f := range forms {
		for i := 0; ; {
			j := bytes.Index(b[i:], f)
			if j < 0 {
				break
			}
			for k := i + j; k < i+j+len(f); k++ {
				b[k] = '*'
			}
			i += j + len(f)
		}
	}
}
