package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/apitoken"
	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/store"
)

type connectionsView struct {
	User string
	Rows []connectionRow
}

type connectionRow struct {
	gateway.Connection
	ActionName, Domain string
}

func (c *Console) connections(w http.ResponseWriter, r *http.Request) error {
	v := connectionsView{User: strings.TrimSpace(r.URL.Query().Get("user"))}
	if v.User != "" {
		cs, err := c.gw.Connections(r.Context(), v.User)
		if err != nil {
			return err
		}
		as, err := c.gw.ListActions(r.Context())
		if err != nil {
			return err
		}
		byID := map[string]*gateway.Action{}
		for _, a := range as {
			byID[a.ID] = a
		}
		for _, cn := range cs {
			row := connectionRow{Connection: cn, ActionName: cn.ActionID}
			if a := byID[cn.ActionID]; a != nil {
				row.ActionName, row.Domain = a.Name, a.Domain
			}
			v.Rows = append(v.Rows, row)
		}
	}
	c.render(w, r, http.StatusOK, "connections.html", view{Title: "Connections", Nav: "connections", Page: v})
	return nil
}

func (c *Console) revokeConnection(w http.ResponseWriter, r *http.Request) error {
	actionID, user := r.PostFormValue("action_id"), r.PostFormValue("user")
	if user == "" || actionID == "" {
		return apierr.New(apierr.InvalidRequest, "Both the action and the user are needed to revoke a connection.")
	}
	if err := c.gw.Disconnect(r.Context(), actionID, user); err != nil {
		return err
	}
	name := actionID
	if a, err := c.gw.GetAction(r.Context(), actionID); err == nil {
		name = a.Name
	}
	c.sessions.setFlash(sessionFrom(r.Context()), fmt.Sprintf("Signed %s out of “%s”.", user, name))
	c.redirect(w, r, "/ui/connections?user="+url.QueryEscape(user))
	return nil
}

type tokensView struct {
	Tokens []*apitoken.Token
	// Created is the token just created, with its secret: shown once, in
	// the answer to the POST that created it, and kept nowhere.
	Created *apitoken.Token
	Name    string
	User    string
}

// Expiry choices of the token form, in seconds.
var tokenLifetimes = []struct {
	Label   string
	Seconds int64
}{{"Never", 0}, {"1 day", 86400}, {"30 days", 30 * 86400}, {"90 days", 90 * 86400}, {"1 year", 365 * 86400}}

func (c *Console) listTokens(w http.ResponseWriter, r *http.Request) error {
	return c.showTokens(w, r, http.StatusOK, tokensView{}, nil)
}

func (c *Console) showTokens(w http.ResponseWriter, r *http.Request, status int, v tokensView, e *apierr.Error) error {
	ts, err := c.tokens.List(r.Context())
	if err != nil {
		return err
	}
	v.Tokens = ts
	c.render(w, r, status, "tokens.html", view{Title: "API tokens", Nav: "tokens", Error: e, Page: v})
	return nil
}

func (c *Console) createToken(w http.ResponseWriter, r *http.Request) error {
	in := apitoken.CreateInput{Name: r.PostFormValue("name"), Scopes: r.PostForm["scopes"], User: strings.TrimSpace(r.PostFormValue("user"))}
	if s := r.PostFormValue("expires_in"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return apierr.New(apierr.InvalidRequest, "expires_in: must be a number of seconds")
		}
		in.ExpiresIn = n
	}
	t, err := c.tokens.Create(r.Context(), in)
	if err != nil {
		e, ok := asAPIError(err)
		if !ok {
			return err
		}
		return c.showTokens(w, r, e.Status(), tokensView{Name: in.Name, User: in.User}, e)
	}
	c.gw.AuditEvent(r.Context(), gateway.EventTokenCreated, "", t.User, map[string]any{"token": t.ID, "name": t.Name, "scopes": t.Scopes})
	return c.showTokens(w, r, http.StatusCreated, tokensView{Created: t}, nil)
}

func (c *Console) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := c.tokens.Revoke(r.Context(), id); err != nil {
		return err
	}
	c.gw.AuditEvent(r.Context(), gateway.EventTokenRevoked, "", "", map[string]any{"token": id})
	c.sessions.endToken(id)
	if s := sessionFrom(r.Context()); s != nil && s.tokenID != id {
		c.sessions.setFlash(s, "Revoked token "+id+".")
	}
	c.redirect(w, r, "/ui/tokens")
	return nil
}

type auditView struct {
	Filter store.AuditFilter
	Types  []string
	Events []gateway.AuditEvent
	Next   string // link to the next page, "" on the last
}

// auditPage is how many events one page shows.
const auditPage = 100

var auditTypes = []string{
	gateway.EventActionCreated, gateway.EventActionUpdated, gateway.EventActionDeleted, gateway.EventAuthChanged,
	gateway.EventConnectionCreated, gateway.EventConnectionRefreshed, gateway.EventConnectionReauth, gateway.EventConnectionRevoked,
	gateway.EventTokenCreated, gateway.EventTokenRevoked, gateway.EventKeyRotated,
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.AuditFilter{ActionID: strings.TrimSpace(q.Get("action")), User: strings.TrimSpace(q.Get("user")), Type: q.Get("type"), Limit: auditPage}
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return apierr.New(apierr.InvalidRequest, "after: must be a non-negative integer")
		}
		f.AfterID = n
	}
	es, err := c.gw.Audit(r.Context(), f)
	if err != nil {
		return err
	}
	v := auditView{Filter: f, Types: auditTypes, Events: es}
	if len(es) == auditPage {
		nq := url.Values{}
		for k, val := range map[string]string{"action": f.ActionID, "user": f.User, "type": f.Type} {
			if val != "" {
				nq.Set(k, val)
			}
		}
		nq.Set("after", strconv.FormatInt(es[len(es)-1].ID, 10))
		v.Next = "/ui/audit?" + nq.Encode()
	}
	c.render(w, r, http.StatusOK, "audit.html", view{Title: "Audit log", Nav: "audit", Page: v})
	return nil
}

// Lifetimes are the token form's expiry choices.
func (tokensView) Lifetimes() []struct {
	Label   string
	Seconds int64
} {
	return tokenLifetimes
}
