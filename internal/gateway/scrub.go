package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf16"

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

// formsFor is credentialForms(cred), from the action when cred is its API
// key (worked out once per load).
func formsFor(c *compiled, cred secrets.Secret) []string {
	if c.keyForms != nil && cred.Reveal() == c.apiKey.Reveal() {
		return c.keyForms
	}
	return credentialForms(cred)
}

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
	// As JSON encoders write it inside a string: Go's (HTML-safe \u003c),
	// plain, ASCII-only (\uXXXX, Python's default), and with "\/" (PHP's).
	for _, j := range jsonForms(v) {
		add(j)
		add(strings.ReplaceAll(j, "/", `\/`))
	}
	return forms
}

// jsonForms is v as the inside of a JSON string, in the spellings encoders use.
func jsonForms(v string) []string {
	var out []string
	for _, html := range []bool{true, false} {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(v) == nil {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(b.String()), `"`)[1:])
		}
	}
	plain := out[len(out)-1]
	return append(out, asciiJSON(plain, `\u%04x`), asciiJSON(plain, `\u%04X`))
}

// asciiJSON escapes every non-ASCII rune of a JSON string's inside as
// \uXXXX with format (surrogate pairs above the BMP), as ASCII-only encoders do.
func asciiJSON(s, format string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, format+format, r1, r2)
		default:
			fmt.Fprintf(&b, format, r)
		}
	}
	return b.String()
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
func scrubHeaders(h http.Header, forms []string) {
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
func scrubResult(r *Result, forms []string) {
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
// stays true, and nothing is held back but a tail that may begin a form. A
// compressed body (gzip, deflate, br, zstd, compress) cannot be searched and
// is passed as it is.
func maskBody(resp *http.Response, forms []string) {
	if forms == nil || resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		return
	}
	if compressed(resp.Header.Get("Content-Encoding")) {
		return
	}
	m := &maskReader{ReadCloser: resp.Body}
	for _, f := range forms {
		m.forms = append(m.forms, []byte(f))
	}
	resp.Body = m
}

// compressed reports a Content-Encoding that makes the body unsearchable.
// Anything else (identity, none, or values no client would decode) is
// searched: a made-up coding must not be a way around the mask.
func compressed(ce string) bool {
	for _, c := range strings.Split(ce, ",") {
		switch strings.ToLower(strings.TrimSpace(c)) {
		case "gzip", "x-gzip", "deflate", "br", "zstd", "compress", "x-compress":
			return true
		}
	}
	return false
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
