package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/metrics"
	"github.com/actiongate/actiongate/internal/netguard"
	"github.com/actiongate/actiongate/internal/openapi"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/userid"
)

// InvokeRequest is the body of POST /v1/actions/{id}/invoke.
type InvokeRequest struct {
	User      string         `json:"user"`
	Operation string         `json:"operation"`
	Arguments map[string]any `json:"arguments"`
	Confirmed bool           `json:"confirmed"`
}

// Result is the API's answer as invoke returns it.
type Result struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	// Body is the JSON value when the API answered JSON, else a string.
	Body any `json:"body"`
	// BodyEncoding is "base64" when the body was not text.
	BodyEncoding string `json:"body_encoding,omitempty"`
}

// Invoke calls one operation of an action for a user.
func (g *Gateway) Invoke(ctx context.Context, actionID string, in InvokeRequest) (*Result, error) {
	t0 := time.Now()
	var rec callRecord
	res, err := g.invoke(ctx, actionID, in, &rec)
	g.recordCall(metrics.ModeInvoke, &rec, err, t0)
	return res, err
}

// callRecord collects what the metrics of one call need. action and
// operation are set only once found: unknown ids from the caller never
// become label values.
type callRecord struct {
	action, operation string
	status            int           // the upstream's, 0 when it did not answer
	upstream          time.Duration // waiting on the API
}

func (g *Gateway) recordCall(mode string, rec *callRecord, err error, t0 time.Time) {
	if g.metrics == nil {
		return
	}
	outcome := metrics.OutcomeOK
	if err != nil {
		outcome = apierr.From(err).Code
	}
	g.metrics.Call(mode, rec.action, rec.operation, outcome, rec.status, time.Since(t0), rec.upstream)
}

func (g *Gateway) invoke(ctx context.Context, actionID string, in InvokeRequest, rec *callRecord) (*Result, error) {
	c, err := g.load(ctx, actionID)
	if err != nil {
		return nil, err
	}
	rec.action = c.action.ID
	op, err := operationIn(c, in.Operation)
	if err != nil {
		return nil, err
	}
	rec.operation = op.ID
	if err := userid.Check(in.User); err != nil {
		return nil, err
	}
	if c.auth.Type == AuthOAuth && in.User == "" {
		return nil, apierr.New(apierr.InvalidRequest, "user: required for an oauth action")
	}
	pl := g.placement(c, op)
	req, err := buildRequest(ctx, op, in.Arguments, pl)
	if err != nil {
		return nil, err
	}
	if op.Consequential && !in.Confirmed {
		return nil, &apierr.Error{
			Code:    apierr.ConfirmationRequired,
			Message: fmt.Sprintf("operation %s changes data; ask the user, then call again with \"confirmed\": true", op.ID),
			Extra:   map[string]any{"operation": op.ID},
		}
	}
	if err := g.checkDestination(c, op, req, pl); err != nil {
		return nil, err
	}
	cred, seen, err := g.credential(ctx, c, in.User, pl)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	up := time.Now()
	defer func() { rec.upstream = time.Since(up) }() // to the end of the body
	resp, err := g.send(ctx, req, pl, cred)
	if err != nil {
		return nil, upstreamErr(ctx, err, c.doc.Domain())
	}
	rec.status = resp.StatusCode
	if resp.StatusCode == http.StatusUnauthorized && c.auth.Type == AuthOAuth {
		// The API refused a token we believed valid: refresh once and retry
		// once (never a loop).
		resp.Body.Close()
		cred, _, err = g.refresh(ctx, c, in.User, seen, true)
		if err != nil {
			return nil, err
		}
		if req, err = buildRequest(ctx, op, in.Arguments, pl); err != nil {
			return nil, err
		}
		if resp, err = g.send(ctx, req, pl, cred); err != nil {
			rec.status = 0
			return nil, upstreamErr(ctx, err, c.doc.Domain())
		}
		rec.status = resp.StatusCode
	}
	defer resp.Body.Close()
	res, err := g.result(resp)
	if err == nil {
		scrubResult(res, formsFor(c, cred))
	}
	return res, err
}

// send adds the credential to req and calls the API.
func (g *Gateway) send(ctx context.Context, req *http.Request, pl placement, cred secrets.Secret) (*http.Response, error) {
	pl.apply(req, cred)
	req.Header.Set("User-Agent", UserAgent)
	return g.client.Do(req.WithContext(ctx))
}

// checkDestination enforces that calls go to the action's own server host with a
// scheme that is allowed: https, or plain http only for actions that send no
// credential or when private networks are allowed. (Addresses are checked again
// when dialling, by netguard.)
func (g *Gateway) checkDestination(c *compiled, op *openapi.Operation, req *http.Request, pl placement) error {
	host := req.URL.Hostname()
	want := c.doc.Domain()
	if u, err := url.Parse(op.ServerURL); err == nil && u.Hostname() != "" {
		want = u.Hostname() // the operation's own server, declared by the document
	}
	if !strings.EqualFold(host, want) {
		return apierr.New(apierr.DestinationBlocked, "request would go to %q, not the action's server %q", host, want)
	}
	if req.URL.Scheme == "http" && pl.kind != placeNone && !g.allowPrivate {
		return apierr.New(apierr.DestinationBlocked, "credentials are never sent over plain http (server %s)", c.doc.ServerURL)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return apierr.New(apierr.DestinationBlocked, "scheme %q is not allowed", req.URL.Scheme)
	}
	return nil
}

// upstreamErr classifies a failed upstream call.
func upstreamErr(ctx context.Context, err error, domain string) error {
	if errors.Is(err, netguard.ErrBlocked) {
		msg := safeMessage(err)
		if reason, private, ok := netguard.Refusal(err); ok {
			msg = "calls to " + domain + " are not allowed: " + reason
			if private {
				msg += " (private and loopback addresses are refused unless ACTIONGATE_ALLOW_PRIVATE_NETWORKS=1)"
			}
		}
		return &apierr.Error{Code: apierr.DestinationBlocked, Message: msg, Cause: err}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded || (errors.As(err, &ne) && ne.Timeout()) {
		return &apierr.Error{Code: apierr.UpstreamTimeout, Message: domain + " did not answer in time", Cause: err}
	}
	return &apierr.Error{Code: apierr.UpstreamUnreachable, Message: "could not reach " + domain, Cause: err}
}

// safeMessage returns netguard's user-safe message: the url.Error around it
// would add the request URL, whose query may hold an API key.
func safeMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// dropResponseHeaders are not passed back to the model.
var dropResponseHeaders = map[string]bool{"Set-Cookie": true, "Connection": true, "Keep-Alive": true, "Transfer-Encoding": true}

func (g *Gateway) result(resp *http.Response) (*Result, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, g.maxBody+1))
	if err != nil {
		return nil, &apierr.Error{Code: apierr.UpstreamUnreachable, Message: "the API's response was cut off", Cause: err}
	}
	if int64(len(body)) > g.maxBody {
		return nil, apierr.New(apierr.UpstreamTooLarge, "the API's response is larger than the %d-byte limit; ask for less (a smaller page or a filter)", g.maxBody)
	}
	r := &Result{Status: resp.StatusCode, Headers: map[string]string{}}
	for k, vs := range resp.Header {
		if dropResponseHeaders[k] {
			continue
		}
		r.Headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case len(body) == 0:
		r.Body = ""
	case (ct == "application/json" || strings.HasSuffix(ct, "+json")) && json.Valid(body):
		r.Body = json.RawMessage(body)
	case utf8.Valid(body):
		r.Body = string(body)
	default:
		r.Body = base64.StdEncoding.EncodeToString(body)
		r.BodyEncoding = "base64"
	}
	return r, nil
}

// Where a credential goes.
const (
	placeNone = iota
	placeAuthorization
	placeHeader
	placeQuery
	placeCookie
)

type placement struct {
	kind   int
	name   string // header, query or cookie name
	scheme string // for placeAuthorization: "Bearer" or "Basic"
}

// placement decides where the action's credential goes for op.
func (g *Gateway) placement(c *compiled, op *openapi.Operation) placement {
	if offSite(c.doc, op) {
		return placement{} // credentials stay with the action's site
	}
	switch c.auth.Type {
	case AuthOAuth:
		return placement{kind: placeAuthorization, scheme: "Bearer"}
	case AuthAPIKey:
		if op.NoSecurity() {
			return placement{}
		}
		switch c.auth.AuthType {
		case KeyBearer:
			return placement{kind: placeAuthorization, scheme: "Bearer"}
		case KeyBasic:
			return placement{kind: placeAuthorization, scheme: "Basic"}
		case KeyCustom:
			return placement{kind: placeHeader, name: c.auth.CustomHeader}
		}
		// No auth_type: where the document's apiKey scheme says (QUIRKS Q25).
		if cr, ok := op.APIKeyPlacement(); ok {
			switch cr.In {
			case "query":
				return placement{kind: placeQuery, name: cr.Name}
			case "cookie":
				return placement{kind: placeCookie, name: cr.Name}
			default:
				return placement{kind: placeHeader, name: cr.Name}
			}
		}
		return placement{kind: placeAuthorization, scheme: "Bearer"}
	}
	return placement{}
}

// strip lists the argument locations the model may not set (the credential's own).
func (p placement) strip() []openapi.Credential {
	switch p.kind {
	case placeAuthorization:
		return []openapi.Credential{{In: "header", Name: "Authorization"}}
	case placeHeader:
		return []openapi.Credential{{In: "header", Name: p.name}, {In: "header", Name: "Authorization"}}
	case placeQuery:
		return []openapi.Credential{{In: "query", Name: p.name}}
	case placeCookie:
		return []openapi.Credential{{In: "cookie", Name: p.name}}
	}
	return nil
}

// apply adds the credential to req.
func (p placement) apply(req *http.Request, cred secrets.Secret) {
	v := cred.Reveal()
	switch p.kind {
	case placeAuthorization:
		if p.scheme == "Basic" {
			req.Header.Set("Authorization", basicValue(v))
		} else {
			req.Header.Set("Authorization", "Bearer "+v)
		}
	case placeHeader:
		req.Header.Set(p.name, v)
	case placeQuery:
		// Appended rather than re-encoded, so the operation's own query encoding
		// (style/explode) stays exactly as built.
		kv := url.QueryEscape(p.name) + "=" + url.QueryEscape(v)
		if req.URL.RawQuery == "" {
			req.URL.RawQuery = kv
		} else {
			req.URL.RawQuery += "&" + kv
		}
	case placeCookie:
		req.AddCookie(&http.Cookie{Name: p.name, Value: v})
	}
}

// credential returns the secret to send, or a sign_in_required error. For
// oauth actions it also returns the sealed token, for a reactive refresh.
func (g *Gateway) credential(ctx context.Context, c *compiled, user string, p placement) (secrets.Secret, []byte, error) {
	if p.kind == placeNone {
		return secrets.Secret{}, nil, nil
	}
	switch c.auth.Type {
	case AuthAPIKey:
		if !c.apiKey.IsZero() {
			return c.apiKey, nil, nil // opened once per load (cache.go)
		}
		s, err := g.keys.OpenString(c.action.Secret, secretAAD(c.action.ID))
		if err != nil {
			id, _ := g.keys.KeyID(c.action.Secret)
			return s, nil, unopenable(c.action.ID, id, err)
		}
		return s, nil, nil
	case AuthOAuth:
		return g.userToken(ctx, c, user)
	}
	return secrets.Secret{}, nil, nil
}

// buildRequest builds the request for op from the caller's arguments, without
// credentials; arguments that do not match the operation are answered
// invalid_arguments with every problem.
func buildRequest(ctx context.Context, op *openapi.Operation, args map[string]any, pl placement) (*http.Request, error) {
	req, err := op.BuildRequest(ctx, op.ServerURL, args, pl.strip())
	if err != nil {
		var ae *openapi.ArgumentsError
		if errors.As(err, &ae) {
			for i, p := range ae.Problems {
				if p == "confirmed: unknown argument" { // a common slip
					ae.Problems[i] = p + ` (to confirm, send "confirmed": true next to "arguments", not inside them)`
				}
			}
			return nil, &apierr.Error{Code: apierr.InvalidArguments, Message: "the arguments do not match operation " + op.ID, Details: ae.Problems}
		}
		return nil, err
	}
	return req, nil
}

// unopenable is the error for an API key the configured master keys do not
// open: an operator's matter, said to the caller without the details.
func unopenable(actionID, keyID string, err error) error {
	return &apierr.Error{Code: apierr.Internal,
		Message: "the action's API key cannot be opened with the configured master keys; an operator must configure the key it was sealed with (see the gateway's log)",
		Cause:   fmt.Errorf("action %s: API key sealed under master key %s: %w", actionID, keyID, err)}
}
