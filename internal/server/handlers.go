package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/apitoken"
	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/store"
)

func (s *Server) createAction(w http.ResponseWriter, r *http.Request) error {
	var in gateway.ActionInput
	if err := decode(r, &in); err != nil {
		return err
	}
	a, err := s.gw.CreateAction(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/actions/"+a.ID)
	writeJSON(w, http.StatusCreated, a)
	return nil
}

func (s *Server) listActions(w http.ResponseWriter, r *http.Request) error {
	as, err := s.gw.ListActions(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"actions": as})
	return nil
}

func (s *Server) getAction(w http.ResponseWriter, r *http.Request) error {
	a, err := s.gw.GetAction(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) updateAction(w http.ResponseWriter, r *http.Request) error {
	var in gateway.ActionInput
	if err := decode(r, &in); err != nil {
		return err
	}
	a, err := s.gw.UpdateAction(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) deleteAction(w http.ResponseWriter, r *http.Request) error {
	if err := s.gw.DeleteAction(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) invoke(w http.ResponseWriter, r *http.Request) error {
	var in gateway.InvokeRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	user, err := forUser(r, in.User)
	if err != nil {
		return err
	}
	in.User = user
	if err := s.perUser.allow(in.User, "user"); err != nil {
		return err
	}
	res, err := s.gw.Invoke(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) connect(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		User   string `json:"user"`
		Action string `json:"action"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	user, err := forUser(r, in.User)
	if err != nil {
		return err
	}
	si, err := s.gw.Connect(r.Context(), user, in.Action)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, si)
	return nil
}

func (s *Server) listConnections(w http.ResponseWriter, r *http.Request) error {
	user, err := forUser(r, r.URL.Query().Get("user"))
	if err != nil {
		return err
	}
	cs, err := s.gw.Connections(r.Context(), user)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": cs})
	return nil
}

func (s *Server) deleteConnection(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("user") == "" {
		return apierr.New(apierr.InvalidRequest, "user: required in the path")
	}
	if _, err := forUser(r, r.PathValue("user")); err != nil {
		return err
	}
	if err := s.gw.Disconnect(r.Context(), r.PathValue("action_id"), r.PathValue("user")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) proxy(w http.ResponseWriter, r *http.Request) error {
	// A prefix route split here: a {action_id}/{path...} pattern costs the mux
	// an allocation per path segment on every call.
	// The path goes on as the caller wrote it (an encoded slash stays one:
	// a%2Fb is one segment to the API), so it is taken from the request line,
	// not from r.URL, whose escaped form Go may rebuild from the decoded one.
	raw := r.URL.EscapedPath()
	target := r.RequestURI
	if _, rest, ok := strings.Cut(target, "://"); ok && !strings.HasPrefix(target, "/") {
		// absolute-form, as sent to a proxy: http://host/path
		target = "/"
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			target = rest[i:]
		}
	}
	if strings.HasPrefix(target, "/") {
		raw, _, _ = strings.Cut(target, "?")
	}
	// "", "v1", "proxy" (however spelled), the action id, the path.
	parts := strings.SplitN(raw, "/", 5)
	actionID, path, ok := "", "", len(parts) == 5
	if len(parts) >= 4 {
		actionID = parts[3]
	}
	if ok {
		path = parts[4]
	}
	if id, err := url.PathUnescape(actionID); err == nil {
		actionID = id
	}
	if !ok || actionID == "" {
		return apierr.New(apierr.NotFound, "no endpoint %s %s", r.Method, r.URL.Path)
	}
	// The proxy reaches any path of the API with the action's credentials,
	// beyond the operations the document declares: it is for a platform's
	// backend, not for a token handed to one end user's client.
	if p := principal(r); p != nil && p.User != "" {
		return apierr.New(apierr.Forbidden, "the proxy is for platform backends: a token bound to one user cannot use it (use invoke or tools)")
	}
	user, err := forUser(r, r.Header.Get(gateway.UserHeader))
	if err != nil {
		return err
	}
	if user != "" {
		r.Header.Set(gateway.UserHeader, user)
	}
	if err := s.perUser.allow(user, "user"); err != nil {
		return err
	}
	return s.gw.Proxy(w, r, actionID, path)
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var in apitoken.CreateInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := checkUser(in.User); err != nil {
		return err
	}
	t, err := s.tokens.Create(r.Context(), in)
	if err != nil {
		return err
	}
	s.gw.AuditEvent(r.Context(), gateway.EventTokenCreated, "", t.User, map[string]any{"token": t.ID, "name": t.Name, "scopes": t.Scopes})
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.tokens.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.tokens.Revoke(r.Context(), id); err != nil {
		return err
	}
	s.gw.AuditEvent(r.Context(), gateway.EventTokenRevoked, "", "", map[string]any{"token": id})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.AuditFilter{ActionID: q.Get("action"), User: q.Get("user"), Type: q.Get("type")}
	for name, dst := range map[string]*int64{"after": &f.AfterID} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return apierr.New(apierr.InvalidRequest, "%s: must be a non-negative integer", name)
			}
			*dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return apierr.New(apierr.InvalidRequest, "limit: must be between 1 and 1000")
		}
		f.Limit = n
	}
	es, err := s.gw.Audit(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": es})
	return nil
}

func (s *Server) rotateKeys(w http.ResponseWriter, r *http.Request) error {
	res, err := s.gw.RotateKeys(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
