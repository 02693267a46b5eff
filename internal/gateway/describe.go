package gateway

// What the web console (package console) needs beyond the HTTP API: the
// document an action was registered with (to edit it), an operation's argument
// schemas (to generate a form), and the request invoke would send (to show it,
// credentials masked).

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/logging"
	"github.com/actiongate/actiongate/internal/openapi"
)

// ActionSource is an action with what it was registered from, secrets
// excluded.
type ActionSource struct {
	*Action
	// Schema is the OpenAPI document exactly as registered.
	Schema string
	// ServerURLOverride is the server_url given at registration ("" when the
	// document's own server is used); Action.ServerURL is the effective one.
	ServerURLOverride string
}

// ActionSource returns an action with its document, for editing.
func (g *Gateway) ActionSource(ctx context.Context, id string) (*ActionSource, error) {
	c, err := g.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return &ActionSource{Action: view(c, g.CallbackURL()), Schema: c.action.Schema, ServerURLOverride: c.action.ServerURL}, nil
}

// OperationInputs describes one operation's arguments.
type OperationInputs struct {
	Operation
	// Parameters are the path, query, header and cookie parameters, without
	// the ones the action's credential occupies (the caller cannot set them).
	Parameters []openapi.ParamInfo
	// Body is the request body's JSON Schema (nil without a body), sent as
	// BodyContentType. BodyWhole: it goes whole under the "requestBody"
	// argument; otherwise each top-level property is an argument.
	Body            map[string]any
	BodyContentType string
	BodyWhole       bool
}

// OperationInputs returns the arguments operation opID of an action takes.
func (g *Gateway) OperationInputs(ctx context.Context, actionID, opID string) (*OperationInputs, error) {
	c, op, err := g.operation(ctx, actionID, opID)
	if err != nil {
		return nil, err
	}
	strip := g.placement(c, op).strip()
	in := &OperationInputs{Operation: Operation{ID: op.ID, Method: op.Method, Path: op.Path, Summary: op.Summary, Consequential: op.Consequential}}
	for _, p := range op.Parameters() {
		if !stripped(strip, p.In, p.Name) {
			in.Parameters = append(in.Parameters, p)
		}
	}
	in.Body, in.BodyContentType, in.BodyWhole = op.BodySchema()
	return in, nil
}

func stripped(strip []openapi.Credential, in, name string) bool {
	for _, c := range strip {
		if c.In == in && (c.Name == name || in == "header" && strings.EqualFold(c.Name, name)) {
			return true
		}
	}
	return false
}

// RequestDescription is a request as invoke sends it, with every credential
// masked.
type RequestDescription struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Headers http.Header `json:"headers"`
	Body    string      `json:"body,omitempty"`
	// BodyTruncated is true when Body is only the first MaxDescribedBody bytes.
	BodyTruncated bool `json:"body_truncated,omitempty"`
}

// MaxDescribedBody bounds the request body a description shows.
const MaxDescribedBody = 64 << 10

// Describe builds the request Invoke sends for in — the same operation lookup,
// argument validation and encoding — without sending it and without opening
// any credential: where the credential goes shows logging.Redacted, and
// headers whose names look like credentials are redacted too
// (logging.Header). Its errors are Invoke's (not_found, invalid_arguments…).
func (g *Gateway) Describe(ctx context.Context, actionID string, in InvokeRequest) (*RequestDescription, error) {
	c, op, err := g.operation(ctx, actionID, in.Operation)
	if err != nil {
		return nil, err
	}
	pl := g.placement(c, op)
	req, err := buildRequest(ctx, op, in.Arguments, pl)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", UserAgent)
	d := &RequestDescription{Method: req.Method, URL: req.URL.String(), Headers: logging.Header(req.Header)}
	switch pl.kind {
	case placeAuthorization:
		d.Headers.Set("Authorization", pl.scheme+" "+logging.Redacted)
	case placeHeader:
		d.Headers.Set(pl.name, logging.Redacted)
	case placeCookie:
		d.Headers.Set("Cookie", logging.Redacted) // whatever else it carries
	case placeQuery:
		sep := "?"
		if req.URL.RawQuery != "" {
			sep = "&"
		}
		d.URL += sep + url.QueryEscape(pl.name) + "=" + logging.Redacted
	}
	if req.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(req.Body, MaxDescribedBody+1))
		req.Body.Close()
		if len(b) > MaxDescribedBody {
			b, d.BodyTruncated = b[:MaxDescribedBody], true
		}
		d.Body = string(b)
	}
	return d, nil
}

// operation loads an action and finds one of its operations.
func (g *Gateway) operation(ctx context.Context, actionID, opID string) (*compiled, *openapi.Operation, error) {
	c, err := g.load(ctx, actionID)
	if err != nil {
		return nil, nil, err
	}
	op, err := operationIn(c, opID)
	if err != nil {
		return nil, nil, err
	}
	return c, op, nil
}

// operationIn finds the operation id in the action; an id that differs only
// in case is suggested.
func operationIn(c *compiled, id string) (*openapi.Operation, error) {
	if id == "" {
		return nil, apierr.New(apierr.InvalidRequest, "operation: required")
	}
	if op, ok := c.doc.Operation(id); ok {
		return op, nil
	}
	for _, op := range c.doc.Operations {
		if strings.EqualFold(op.ID, id) {
			return nil, apierr.New(apierr.NotFound, "operation %q not found in action %q (did you mean %q?)", id, c.action.ID, op.ID)
		}
	}
	return nil, apierr.New(apierr.NotFound, "operation %q not found in action %q", id, c.action.ID)
}
