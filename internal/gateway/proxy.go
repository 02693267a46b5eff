package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/openapi"
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
	ctx := r.Context()
	c, err := g.load(ctx, actionID)
	if err != nil {
		return err
	}
	user := r.Header.Get(UserHeader)
	if c.auth.Type == AuthOAuth && user == "" {
		return apierr.New(apierr.InvalidRequest, "%s: header required for an oauth action", UserHeader)
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == ".." || seg == "." {
			return apierr.New(apierr.InvalidRequest, "path: %q segments are not allowed", seg)
		}
	}
	target, err := url.Parse(c.doc.ServerURL)
	if err != nil {
		return err
	}
	pl := g.proxyPlacement(c)
	if target.Scheme == "http" && pl.kind != placeNone && !g.allowPrivate {
		return apierr.New(apierr.DestinationBlocked, "credentials are never sent over plain http (server %s)", c.doc.ServerURL)
	}
	cred, _, err := g.credential(ctx, c, user, pl)
	if err != nil {
		return err
	}
	domain := c.doc.Domain()
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := pr.Out
			out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
			out.URL.Path = strings.TrimRight(target.Path, "/") + "/" + strings.TrimLeft(path, "/")
			out.URL.RawPath = ""
			out.Host = target.Host
			out.Header.Del("Authorization")
			out.Header.Del(UserHeader)
			stripCredential(out, pl)
			out.Header.Set("User-Agent", UserAgent)
			pl.apply(out, cred)
		},
		Transport:     g.client.Transport,
		FlushInterval: -1, // stream as it comes
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			e := apierr.From(upstreamErr(r.Context(), err, domain))
			if errors.Is(err, context.Canceled) {
				return // the client went away
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(e.Status())
			_, _ = w.Write(errorJSON(e))
		},
	}
	rp.ServeHTTP(w, r)
	return nil
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
