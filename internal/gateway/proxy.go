package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/metrics"
	"github.com/actiongate/actiongate/internal/openapi"
	"github.com/actiongate/actiongate/internal/userid"
)

// UserHeader names the end user on proxy and MCP requests.
const UserHeader = "X-Actiongate-User"

// Proxy forwards r to the action's server URL joined with path, with the
// action's credentials added, and streams the API's answer back as it came. It
// uses net/http/httputil.ReverseProxy with a Rewrite hook (hop-by-hop headers are
// removed before the hook runs). The caller's Authorization header (its gateway
// API token), the user header and any header, query parameter or cookie that
// would carry the action's credential are removed before the credential is set.
//
// OAuth tokens are refreshed before they expire; unlike invoke, a 401 from the
// API is passed back rather than retried, because a streamed request body
// cannot be sent twice.
func (g *Gateway) Proxy(w http.ResponseWriter, r *http.Request, actionID, path string) error {
	t0 := time.Now()
	var (
		rec   callRecord
		upErr error // an upstream failure, already answered to the caller
		err   error
	)
	defer func() { // deferred: an answer aborted half way panics (http.ErrAbortHandler)
		e := err
		if e == nil {
			e = upErr
		}
		g.recordCall(metrics.ModeProxy, &rec, e, t0)
	}()
	err = g.proxy(w, r, actionID, path, &rec, &upErr)
	return err
}

// errClientGone is recorded when the caller went away during a proxied call.
var errClientGone = &apierr.Error{Code: "canceled", Message: "the client went away"}

func (g *Gateway) proxy(w http.ResponseWriter, r *http.Request, actionID, path string, rec *callRecord, upErr *error) error {
	ctx := r.Context()
	c, err := g.load(ctx, actionID)
	if err != nil {
		return err
	}
	rec.action = c.action.ID
	user := r.Header.Get(UserHeader)
	if err := userid.Check(user); err != nil {
		return err
	}
	if c.auth.Type == AuthOAuth && user == "" {
		return apierr.New(apierr.InvalidRequest, "%s: header required for an oauth action", UserHeader)
	}
	rawPath, decoded, err := proxyPath(strings.TrimLeft(path, "/"))
	if err != nil {
		return err
	}
	target := c.target
	if target == nil {
		return fmt.Errorf("action %s: server URL %q does not parse", c.action.ID, c.doc.ServerURL)
	}
	pl := c.proxyPl
	if target.Scheme == "http" && pl.kind != placeNone && !g.allowPrivate {
		return apierr.New(apierr.DestinationBlocked, "credentials are never sent over plain http (server %s)", c.doc.ServerURL)
	}
	cred, _, err := g.credential(ctx, c, user, pl)
	if err != nil {
		return err
	}
	domain := c.doc.Domain()
	// The API must start answering within the upstream timeout; once its
	// head is here the body streams for as long as it takes (event streams,
	// large downloads), bounded only by the caller.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	headTimer := time.AfterFunc(g.timeout, func() { cancel(errHeadTimeout) })
	defer headTimer.Stop()
	var sent time.Time
	body := &readErrBody{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := pr.Out
			out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
			out.URL.Path = c.targetPath + decoded
			out.URL.RawPath = c.targetRawPath + rawPath // as the caller escaped it
			out.Host = target.Host
			out.Header.Del("Authorization")
			out.Header.Del(UserHeader)
			stripCredential(out, pl)
			out.Header.Set("User-Agent", UserAgent)
			pl.apply(out, cred)
			sent = time.Now()
		},
		Transport: g.client.Transport,
		// Streamed as it comes: answers of unknown length and event streams
		// are flushed at once (ReverseProxy does that whatever FlushInterval
		// says); others go out as the server's buffer fills.
		FlushInterval: 0,
		BufferPool:    proxyBuffers,
		ModifyResponse: func(resp *http.Response) error {
			headTimer.Stop()
			rec.status, rec.upstream = resp.StatusCode, time.Since(sent)
			forms := formsFor(c, cred)
			scrubHeaders(resp.Header, forms)
			maskBody(resp, forms)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if !sent.IsZero() && rec.upstream == 0 {
				rec.upstream = time.Since(sent)
			}
			timedOut := errors.Is(context.Cause(r.Context()), errHeadTimeout)
			// A failed read of the caller's body also cancels the request's
			// context (net/http does on any connection read error): that is
			// answered below, not taken for a caller that went away.
			bodyFailed := body.err != nil && !errors.Is(body.err, io.EOF) && !timedOut
			if errors.Is(err, context.Canceled) && !timedOut && !bodyFailed {
				*upErr = errClientGone
				return // the client went away
			}
			var ue error
			if bodyFailed {
				// The caller's body failed (it stalled past the body deadline,
				// or was cut), not the API.
				ue = &apierr.Error{Code: apierr.InvalidRequest, Message: "request body: could not be read to the end (too slow or cut off)", Cause: body.err}
			} else if timedOut {
				ue = &apierr.Error{Code: apierr.UpstreamTimeout, Message: domain + " did not answer in time", Cause: err}
			} else {
				ue = upstreamErr(r.Context(), err, domain)
			}
			*upErr = ue
			e := apierr.From(ue)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(e.Status())
			_, _ = w.Write(errorJSON(e))
		},
	}
	r = r.WithContext(ctx)
	if r.Body != nil && r.Body != http.NoBody {
		body.ReadCloser = r.Body
		r.Body = body
	}
	rp.ServeHTTP(w, r)
	return nil
}

// readErrBody remembers the error reading the caller's body ended with.
type readErrBody struct {
	io.ReadCloser
	err error
}

func (b *readErrBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && b.err == nil {
		b.err = err
	}
	return n, err
}

// errHeadTimeout cancels a proxied call whose API did not answer in time.
var errHeadTimeout = errors.New("the API did not answer in time")

// proxyPath checks a proxied path, as the caller sent it, and returns it
// escaped (what goes on the wire: the caller's escapes kept, and only the bytes
// a URL path cannot carry raw escaped, such as | or non-ASCII) and decoded. It
// refuses what an API's server could take for a step out of the action's base
// path: a segment of dots however it is spelled — percent-encoded (%2e%2e),
// followed by matrix parameters (..;x, which Java servers read as ..), with
// trailing blanks or dots (Windows trims them), in full-width dots, or joined
// by an encoded or full-width slash or backslash (..%2F, ..%5C, which some
// servers split on after decoding) — and control characters (%00 ends a path
// in C).
func proxyPath(raw string) (escaped, decoded string, err error) {
	escaped = escapeRawPath(raw)
	decoded, err = url.PathUnescape(escaped)
	if err != nil {
		return "", "", apierr.New(apierr.InvalidRequest, "path: %v", err)
	}
	for rest := escaped; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		if !strings.ContainsAny(seg, ".%") {
			continue // the common case, without allocating
		}
		d, _ := url.PathUnescape(seg) // cannot fail: the whole path did not
		if strings.IndexFunc(d, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			return "", "", apierr.New(apierr.InvalidRequest, "path: segment %q holds a control character", seg)
		}
		d = fullWidth.Replace(d)
		for d != "" {
			i := strings.IndexAny(d, `/\`)
			if i < 0 {
				i = len(d)
			}
			part, _, _ := strings.Cut(d[:i], ";")
			if strings.Contains(part, ".") && strings.Trim(part, ". \t") == "" {
				return "", "", apierr.New(apierr.InvalidRequest, "path: segment %q steps out of the API's base path", seg)
			}
			d = d[min(i+1, len(d)):]
		}
	}
	return escaped, decoded, nil
}

// fullWidth maps the look-alikes of dots, slashes and backslashes that
// Unicode-normalizing servers turn into the real ones.
var fullWidth = strings.NewReplacer("\uff0e", ".", "\ufe52", ".", "\u2024", ".", "\uff0f", "/", "\uff3c", `\`)

// escapeRawPath percent-encodes the bytes of a path that may not stand raw in
// a URL path (RFC 3986 pchar and "/"), keeping every %XX escape the caller
// wrote, so that what goes out decodes to what came in, escapes and all.
func escapeRawPath(p string) string {
	n := 0
	for i := 0; i < len(p); i++ {
		if !rawPathByte(p[i]) {
			n++
		}
	}
	if n == 0 {
		return p
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(p) + 2*n)
	for i := 0; i < len(p); i++ {
		if c := p[i]; rawPathByte(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// rawPathByte reports whether c may stand raw in a URL path: unreserved,
// sub-delims, ":", "@", "/" and "%" (escapes are the caller's).
func rawPathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/%", c) >= 0
}

// proxyBuffers recycles the 32 KiB buffers ReverseProxy copies bodies with.
var proxyBuffers = &bufferPool{}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// prepareProxy fills in what proxy mode needs of a loaded action, once per load.
func (g *Gateway) prepareProxy(c *compiled) {
	if u, err := url.Parse(c.doc.ServerURL); err == nil {
		c.target = u
		c.targetPath = strings.TrimRight(u.Path, "/") + "/"
		c.targetRawPath = strings.TrimRight(u.EscapedPath(), "/") + "/"
	}
	c.proxyPl = g.proxyPlacement(c)
}

// proxyPlacement is the credential placement for a proxied request, which has
// no operation: the configured auth_type, or else the first apiKey scheme an
// operation of the document declares.
func (g *Gateway) proxyPlacement(c *compiled) placement {
	if c.auth.Type == AuthAPIKey && c.auth.AuthType == "" {
		for _, op := range c.doc.Operations {
			if _, ok := op.APIKeyPlacement(); ok {
				return g.placement(c, op)
			}
		}
		return placement{kind: placeAuthorization, scheme: "Bearer"}
	}
	return g.placement(c, &openapi.Operation{})
}

// stripCredential removes whatever the caller put where the credential goes.
func stripCredential(r *http.Request, p placement) {
	switch p.kind {
	case placeHeader:
		r.Header.Del(p.name)
	case placeQuery:
		q := r.URL.Query()
		if q.Has(p.name) {
			q.Del(p.name)
			r.URL.RawQuery = q.Encode()
		}
	case placeCookie:
		cs := r.Cookies()
		r.Header.Del("Cookie")
		for _, c := range cs {
			if c.Name != p.name {
				r.AddCookie(c)
			}
		}
	}
}

func errorJSON(e *apierr.Error) []byte {
	b, _ := json.Marshal(e.Body())
	return b
}
