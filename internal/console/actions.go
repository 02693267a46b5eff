package console

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/openapi"
)

func (c *Console) listActions(w http.ResponseWriter, r *http.Request) error {
	as, err := c.gw.ListActions(r.Context())
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "actions.html", view{Title: "Actions", Nav: "actions", Page: as})
	return nil
}

// actionForm is the create/edit form's state. Secrets are never in it: only
// whether one is stored.
type actionForm struct {
	ID          string // "" for a new action
	Name        string
	Schema      string
	ServerURL   string
	Auth        gateway.Auth
	AuthParams  string // authorization_params as key=value lines
	TokenPaths  gateway.TokenPaths
	CallbackURL string
	Domain      string

	HasAPIKey, HasClientSecret bool
	// SecretTyped: a secret was submitted with a form that failed; it is not
	// sent back, so the page asks for it again.
	SecretTyped bool

	Operations []gateway.Operation
	Checked    bool     // Operations come from "Check document", not the saved action
	Problems   []string // invalid_schema details
	AuthError  bool     // the error concerns authentication: open its dialog
}

// AuthSummary describes the authentication in one line.
func (f *actionForm) AuthSummary() string {
	a := f.Auth
	switch a.Type {
	case gateway.AuthAPIKey:
		place := map[string]string{gateway.KeyBearer: "Bearer", gateway.KeyBasic: "Basic", gateway.KeyCustom: "custom header " + a.CustomHeader, "": "as the document says"}[a.AuthType]
		return fmt.Sprintf("API key (%s), key %s", place, setOrNot(f.HasAPIKey))
	case gateway.AuthOAuth:
		return fmt.Sprintf("OAuth, client %s, client secret %s", a.ClientID, setOrNot(f.HasClientSecret))
	}
	return "None"
}

// KeyPlacement is the checked API-key placement radio: the stored auth_type,
// "document" for the document's own apiKey scheme, bearer for a new key.
func (f *actionForm) KeyPlacement() string {
	switch {
	case f.Auth.Type != gateway.AuthAPIKey:
		return gateway.KeyBearer
	case f.Auth.AuthType == "":
		return "document"
	}
	return f.Auth.AuthType
}

// PKCE reports whether the PKCE box is ticked (the API's default is on).
func (f *actionForm) PKCE() bool { return f.Auth.PKCE == nil || *f.Auth.PKCE }

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func setOrNot(b bool) string {
	if b {
		return "set"
	}
	return "not set"
}

func (c *Console) newAction(w http.ResponseWriter, r *http.Request) error {
	f := &actionForm{Auth: gateway.Auth{Type: gateway.AuthNone}, CallbackURL: c.gw.CallbackURL()}
	c.showAction(w, r, http.StatusOK, f, nil)
	return nil
}

func (c *Console) editAction(w http.ResponseWriter, r *http.Request) error {
	src, err := c.gw.ActionSource(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	c.showAction(w, r, http.StatusOK, sourceForm(src), nil)
	return nil
}

// sourceForm fills the form from a stored action.
func sourceForm(src *gateway.ActionSource) *actionForm {
	f := &actionForm{
		ID: src.ID, Name: src.Name, Schema: src.Schema, ServerURL: src.ServerURLOverride, Auth: src.Auth,
		CallbackURL: src.CallbackURL, Domain: src.Domain, Operations: src.Operations,
		HasAPIKey: src.Auth.HasAPIKey, HasClientSecret: src.Auth.HasClientSecret,
	}
	if f.Auth.TokenPaths != nil {
		f.TokenPaths = *f.Auth.TokenPaths
	}
	keys := make([]string, 0, len(f.Auth.AuthorizationParams))
	for k := range f.Auth.AuthorizationParams {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, f.Auth.AuthorizationParams[k])
	}
	f.AuthParams = b.String()
	return f
}

func (c *Console) showAction(w http.ResponseWriter, r *http.Request, status int, f *actionForm, e *apierr.Error) {
	title := "New action"
	if f.ID != "" {
		title = f.Name
	}
	c.render(w, r, status, "action.html", view{Title: title, Nav: "actions", Error: e, Page: f})
}

func (c *Console) createAction(w http.ResponseWriter, r *http.Request) error {
	return c.saveAction(w, r, nil)
}

func (c *Console) updateAction(w http.ResponseWriter, r *http.Request) error {
	src, err := c.gw.ActionSource(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.saveAction(w, r, src)
}

// saveAction handles the form's two buttons: "check" parses the document and
// lists its operations without saving; "save" creates or updates the action.
// A failure shows the form again with the problems next to their fields.
func (c *Console) saveAction(w http.ResponseWriter, r *http.Request, src *gateway.ActionSource) error {
	f := &actionForm{CallbackURL: c.gw.CallbackURL()}
	if src != nil {
		f.ID, f.HasAPIKey, f.HasClientSecret = src.ID, src.Auth.HasAPIKey, src.Auth.HasClientSecret
		f.Operations, f.Domain = src.Operations, src.Domain
	}
	in, err := readActionForm(r, f)
	if err == nil && r.PostFormValue("intent") == "check" {
		doc, perr := openapi.Parse([]byte(in.Schema), in.ServerURL)
		if perr != nil {
			err = schemaError(perr)
		} else {
			f.Checked, f.Domain, f.Operations = true, doc.Domain(), operations(doc)
			c.showAction(w, r, http.StatusOK, f, nil)
			return nil
		}
	}
	var a *gateway.Action
	if err == nil {
		if src == nil {
			a, err = c.gw.CreateAction(r.Context(), in)
		} else {
			a, err = c.gw.UpdateAction(r.Context(), src.ID, in)
		}
	}
	if err != nil {
		e, ok := asAPIError(err)
		if !ok {
			return err
		}
		f.SecretTyped = in.Auth.APIKey != nil || in.Auth.ClientSecret != nil
		if e.Code == apierr.InvalidSchema {
			// The problems are listed under the schema, not twice.
			f.Problems = e.Details
			e = &apierr.Error{Code: e.Code, Message: fmt.Sprintf("The OpenAPI document cannot be used: %s, listed under the schema.", plural(len(e.Details), "problem"))}
		}
		f.AuthError = e.Code == apierr.InvalidRequest && strings.HasPrefix(e.Message, "auth")
		c.showAction(w, r, e.Status(), f, e)
		return nil
	}
	verb := "Saved"
	if src == nil {
		verb = "Created"
	}
	c.sessions.setFlash(sessionFrom(r.Context()), fmt.Sprintf("%s “%s”: %s.", verb, a.Name, plural(len(a.Operations), "operation")))
	c.redirect(w, r, "/ui/actions/"+a.ID)
	return nil
}

// schemaError is the gateway's invalid_schema for a document checked here.
func schemaError(err error) *apierr.Error {
	e := &apierr.Error{Code: apierr.InvalidSchema, Message: "the OpenAPI document cannot be used", Details: []string{err.Error()}}
	if se, ok := err.(*openapi.SchemaError); ok {
		e.Details = se.Problems
	}
	return e
}

func operations(doc *openapi.Document) []gateway.Operation {
	ops := make([]gateway.Operation, len(doc.Operations))
	for i, op := range doc.Operations {
		ops[i] = gateway.Operation{ID: op.ID, Method: op.Method, Path: op.Path, Summary: op.Summary, Consequential: op.Consequential}
	}
	return ops
}

// readActionForm turns the submitted form into the API's ActionInput and
// fills f with what the page shows again. An empty secret field means "keep
// the stored one" (the API's PUT semantics).
func readActionForm(r *http.Request, f *actionForm) (gateway.ActionInput, error) {
	v := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	f.Name, f.ServerURL = v("name"), v("server_url")
	f.Schema = r.PostFormValue("schema")
	if file, hdr, err := r.FormFile("schema_file"); err == nil {
		defer file.Close()
		if hdr.Size > gateway.MaxSchemaBytes {
			return gateway.ActionInput{}, apierr.New(apierr.InvalidRequest, "schema: the file is larger than %d bytes", gateway.MaxSchemaBytes)
		}
		b, err := io.ReadAll(io.LimitReader(file, gateway.MaxSchemaBytes+1))
		if err != nil {
			return gateway.ActionInput{}, err
		}
		if len(b) > 0 {
			f.Schema = string(b)
		}
	}
	a := gateway.Auth{Type: r.PostFormValue("auth")}
	f.AuthParams = r.PostFormValue("authorization_params")
	f.TokenPaths = gateway.TokenPaths{AccessToken: v("token_path_access_token"), RefreshToken: v("token_path_refresh_token"),
		ExpiresIn: v("token_path_expires_in"), Scope: v("token_path_scope")}
	in := gateway.ActionInput{Name: f.Name, Schema: f.Schema, ServerURL: f.ServerURL}
	secret := func(name string) *string {
		if s := r.PostFormValue(name); strings.TrimSpace(s) != "" {
			return &s
		}
		return nil
	}
	var err error
	switch a.Type {
	case gateway.AuthAPIKey:
		a.AuthType, a.CustomHeader = v("key_auth_type"), v("custom_header")
		// custom_header is sent by the form whatever the placement.
		switch a.AuthType {
		case "document":
			a.AuthType, a.CustomHeader = "", ""
		case gateway.KeyCustom:
		default:
			a.CustomHeader = ""
		}
		in.Auth.APIKey = secret("api_key")
	case gateway.AuthOAuth:
		a.ClientID, a.AuthorizationURL, a.TokenURL, a.Scope = v("client_id"), v("authorization_url"), v("token_url"), v("scope")
		a.TokenExchangeMethod, a.AuthorizationContentType = v("token_exchange_method"), v("authorization_content_type")
		pkce := r.PostFormValue("pkce") != ""
		a.PKCE = &pkce
		a.RevocationURL, a.RefreshScope = v("revocation_url"), r.PostFormValue("refresh_scope") != ""
		if f.TokenPaths != (gateway.TokenPaths{}) {
			tp := f.TokenPaths
			a.TokenPaths = &tp
		}
		a.AuthorizationParams, err = parseParams(f.AuthParams)
		in.Auth.ClientSecret = secret("client_secret")
	}
	in.Auth.Auth = a
	f.Auth = a
	if f.Auth.Type == "" {
		f.Auth.Type = gateway.AuthNone
	}
	return in, err
}

// parseParams reads key=value lines; blank lines and lines starting with #
// are skipped.
func parseParams(text string) (map[string]string, error) {
	var out map[string]string
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, apierr.New(apierr.InvalidRequest, "auth.authorization_params: line %d: expected key=value", i+1)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = strings.TrimSpace(val)
	}
	return out, nil
}

func (c *Console) confirmDelete(w http.ResponseWriter, r *http.Request) error {
	a, err := c.gw.GetAction(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "delete.html", view{Title: "Delete " + a.Name, Nav: "actions", Page: a})
	return nil
}

func (c *Console) deleteAction(w http.ResponseWriter, r *http.Request) error {
	a, err := c.gw.GetAction(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := c.gw.DeleteAction(r.Context(), a.ID); err != nil {
		return err
	}
	c.sessions.setFlash(sessionFrom(r.Context()), fmt.Sprintf("Deleted “%s” and its connections.", a.Name))
	c.redirect(w, r, "/ui/actions")
	return nil
}
