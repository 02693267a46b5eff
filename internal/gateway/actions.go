package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/openapi"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/store"
)

// ActionInput is the body of POST /v1/actions and PUT /v1/actions/{id}.
type ActionInput struct {
	Name      string    `json:"name"`
	Schema    string    `json:"schema"`
	ServerURL string    `json:"server_url,omitempty"`
	Auth      AuthInput `json:"auth"`
}

// Action is an action as the API shows it: never a secret.
type Action struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Domain      string      `json:"domain"`
	ServerURL   string      `json:"server_url"`
	CallbackURL string      `json:"callback_url"`
	Auth        Auth        `json:"auth"`
	Operations  []Operation `json:"operations"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

// Operation summarises one operation of an action.
type Operation struct {
	ID            string `json:"id"`
	Method        string `json:"method"`
	Path          string `json:"path"`
	Summary       string `json:"summary,omitempty"`
	Consequential bool   `json:"consequential"`
}

// MaxSchemaBytes bounds the size of an OpenAPI document.
const MaxSchemaBytes = 8 << 20

func secretAAD(actionID string) string { return "action:" + actionID + ":secret" }

// check validates everything but the auth secret and parses the document.
func (in *ActionInput) check(allowPrivate bool) (*openapi.Document, *string, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		return nil, nil, apierr.New(apierr.InvalidRequest, "name: required")
	}
	if len(in.Name) > 200 {
		return nil, nil, apierr.New(apierr.InvalidRequest, "name: at most 200 characters")
	}
	if strings.TrimSpace(in.Schema) == "" {
		return nil, nil, apierr.New(apierr.InvalidRequest, "schema: missing or empty (the OpenAPI document as a string)")
	}
	if len(in.Schema) > MaxSchemaBytes {
		return nil, nil, apierr.New(apierr.InvalidRequest, "schema: larger than %d bytes", MaxSchemaBytes)
	}
	secret, err := in.Auth.normalize(allowPrivate)
	if err != nil {
		return nil, nil, err
	}
	doc, err := openapi.Parse([]byte(in.Schema), in.ServerURL)
	if err != nil {
		return nil, nil, schemaErr(err)
	}
	return doc, secret, nil
}

// offSite reports whether op's own server is on another site than the
// action's. Credentials, and the end user's sign-in, belong to the action's
// site: another host of the same site (Box's upload.box.com beside api.box.com)
// gets them, another site (Box's dl.boxcloud.com, pre-signed downloads) is called
// without them, so "Sign in to {domain}" never hides where a token goes.
func offSite(doc *openapi.Document, op *openapi.Operation) bool {
	h := hostOf(op.ServerURL)
	return h != "" && h != doc.Domain() && siteOf(h) != siteOf(doc.Domain())
}

// siteOf is a host's registrable domain (eTLD+1), or the host itself for IP
// addresses and names without a public suffix.
func siteOf(host string) string {
	if net.ParseIP(host) != nil {
		return host
	}
	if s, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return s
	}
	return host
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

func schemaErr(err error) error {
	var se *openapi.SchemaError
	if errors.As(err, &se) {
		return &apierr.Error{Code: apierr.InvalidSchema, Message: "the OpenAPI document cannot be used", Details: se.Problems}
	}
	return &apierr.Error{Code: apierr.InvalidSchema, Message: "the OpenAPI document cannot be used", Details: []string{err.Error()}}
}

// CreateAction registers an action.
func (g *Gateway) CreateAction(ctx context.Context, in ActionInput) (*Action, error) {
	doc, secret, err := in.check(g.allowPrivate)
	if err != nil {
		return nil, err
	}
	if in.Auth.Type == AuthAPIKey && secret == nil {
		return nil, apierr.New(apierr.InvalidRequest, "auth.api_key: required for type api_key")
	}
	now := g.now().UTC().Truncate(time.Microsecond)
	a := store.Action{
		ID:        newID("act_"),
		Name:      in.Name,
		Schema:    in.Schema,
		ServerURL: in.ServerURL,
		AuthType:  in.Auth.Type,
		CreatedAt: now,
		UpdatedAt: now,
	}
	if a.AuthConfig, err = json.Marshal(in.Auth.Auth); err != nil {
		return nil, err
	}
	if secret != nil {
		if a.Secret, err = g.keys.SealString(secrets.New(*secret), secretAAD(a.ID)); err != nil {
			return nil, err
		}
	}
	if err := g.store.CreateAction(ctx, a); err != nil {
		return nil, err
	}
	g.log.Info("action created", "action", a.ID, "auth", a.AuthType, "operations", len(doc.Operations))
	g.audit(ctx, EventActionCreated, a.ID, "", map[string]any{"name": a.Name, "auth": a.AuthType, "has_secret": a.Secret != nil})
	return view(&compiled{action: a, auth: in.Auth.Auth, doc: doc}, g.CallbackURL()), nil
}

// UpdateAction replaces an action's name, document and auth. An auth of the same
// type without api_key / client_secret keeps the stored secret.
func (g *Gateway) UpdateAction(ctx context.Context, id string, in ActionInput) (*Action, error) {
	doc, secret, err := in.check(g.allowPrivate)
	if err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(in.Auth.Auth)
	if err != nil {
		return nil, err
	}
	var authChanged bool
	var moved []string
	a, err := g.store.UpdateAction(ctx, id, func(a *store.Action) error {
		authChanged = secret != nil || a.AuthType != in.Auth.Type || string(a.AuthConfig) != string(cfg)
		moved = nil
		if a.AuthType == in.Auth.Type && a.Secret != nil && secret == nil {
			// A kept secret must not follow its destination to another host
			// without the builder giving it again.
			var err error
			if moved, err = movedHosts(a, doc, &in.Auth.Auth); err != nil {
				return err
			}
			if len(moved) > 0 {
				field := "api_key"
				if in.Auth.Type == AuthOAuth {
					field = "client_secret"
				}
				return apierr.New(apierr.InvalidRequest, "auth.%s: required again because %s changed host", field, strings.Join(moved, " and "))
			}
		}
		switch {
		case secret != nil:
			ct, err := g.keys.SealString(secrets.New(*secret), secretAAD(id))
			if err != nil {
				return err
			}
			a.Secret = ct
		case a.AuthType != in.Auth.Type:
			a.Secret = nil
			if in.Auth.Type == AuthAPIKey {
				return apierr.New(apierr.InvalidRequest, "auth.api_key: required when changing the type to api_key")
			}
		}
		if in.Auth.Type == AuthNone {
			a.Secret = nil
		}
		a.Name, a.Schema, a.ServerURL, a.AuthType, a.AuthConfig = in.Name, in.Schema, in.ServerURL, in.Auth.Type, cfg
		// UpdatedAt versions the cached document: it must move forward.
		prev := a.UpdatedAt
		a.UpdatedAt = g.now().UTC().Truncate(time.Microsecond)
		if !a.UpdatedAt.After(prev) {
			a.UpdatedAt = prev.Add(time.Microsecond)
		}
		return nil
	})
	if err != nil {
		return nil, storeErr(err, "action %q", id)
	}
	g.forget(id)
	g.log.Info("action updated", "action", id, "auth", a.AuthType)
	g.audit(ctx, EventActionUpdated, id, "", map[string]any{"name": a.Name})
	if authChanged {
		g.audit(ctx, EventAuthChanged, id, "", map[string]any{"auth": a.AuthType, "secret_replaced": secret != nil,
			"server": doc.Domain(), "token_url": in.Auth.TokenURL, "revocation_url": in.Auth.RevocationURL})
	}
	return view(&compiled{action: a, auth: in.Auth.Auth, doc: doc}, g.CallbackURL()), nil
}

// GetAction returns one action.
func (g *Gateway) GetAction(ctx context.Context, id string) (*Action, error) {
	c, err := g.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return view(c, g.CallbackURL()), nil
}

// ListActions returns every action.
func (g *Gateway) ListActions(ctx context.Context) ([]*Action, error) {
	as, err := g.store.ListActions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Action, 0, len(as))
	for _, a := range as {
		c, err := g.load(ctx, a.ID)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted meanwhile
			}
			return nil, err
		}
		out = append(out, view(c, g.CallbackURL()))
	}
	return out, nil
}

// DeleteAction removes an action with its connections.
func (g *Gateway) DeleteAction(ctx context.Context, id string) error {
	if err := g.store.DeleteAction(ctx, id); err != nil {
		return storeErr(err, "action %q", id)
	}
	g.forget(id)
	g.log.Info("action deleted", "action", id)
	g.audit(ctx, EventActionDeleted, id, "", nil)
	return nil
}

func compile(a store.Action) (*compiled, error) {
	var auth Auth
	if err := json.Unmarshal(a.AuthConfig, &auth); err != nil {
		return nil, fmt.Errorf("action %s: stored auth config: %w", a.ID, err)
	}
	doc, err := openapi.Parse([]byte(a.Schema), a.ServerURL)
	if err != nil {
		return nil, fmt.Errorf("action %s: stored document no longer parses: %w", a.ID, err)
	}
	return &compiled{action: a, auth: auth, doc: doc}, nil
}

func view(c *compiled, callback string) *Action {
	auth := c.auth
	switch auth.Type {
	case AuthAPIKey:
		auth.HasAPIKey = c.action.Secret != nil
	case AuthOAuth:
		auth.HasClientSecret = c.action.Secret != nil
	}
	ops := make([]Operation, len(c.doc.Operations))
	for i, op := range c.doc.Operations {
		ops[i] = Operation{ID: op.ID, Method: op.Method, Path: op.Path, Summary: op.Summary, Consequential: op.Consequential}
	}
	return &Action{
		ID:          c.action.ID,
		Name:        c.action.Name,
		Domain:      c.doc.Domain(),
		ServerURL:   c.doc.ServerURL,
		CallbackURL: callback,
		Auth:        auth,
		Operations:  ops,
		CreatedAt:   c.action.CreatedAt,
		UpdatedAt:   c.action.UpdatedAt,
	}
}

// storeErr maps store.ErrNotFound to the contract's not_found.
func storeErr(err error, what string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.New(apierr.NotFound, "%s not found", fmt.Sprintf(what, args...))
	}
	return err
}

// movedHosts names the destinations of a stored secret whose host an update
// changes: the API server for an API key; the token and revocation URLs for a
// client secret.
func movedHosts(old *store.Action, doc *openapi.Document, next *Auth) ([]string, error) {
	var prev Auth
	if err := json.Unmarshal(old.AuthConfig, &prev); err != nil {
		return nil, err
	}
	var moved []string
	switch next.Type {
	case AuthAPIKey:
		oldDoc, err := openapi.Parse([]byte(old.Schema), old.ServerURL)
		if err != nil || oldDoc.Domain() != doc.Domain() {
			moved = append(moved, "the server")
		}
	case AuthOAuth:
		if hostOf(prev.TokenURL) != hostOf(next.TokenURL) {
			moved = append(moved, "token_url")
		}
		if prev.RevocationURL != "" && next.RevocationURL != "" && hostOf(prev.RevocationURL) != hostOf(next.RevocationURL) {
			moved = append(moved, "revocation_url")
		}
	}
	return moved, nil
}
