package server

import (
	"net/http"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/gateway"
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
	si, err := s.gw.Connect(r.Context(), in.User, in.Action)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, si)
	return nil
}

func (s *Server) listConnections(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.gw.Connections(r.Context(), r.URL.Query().Get("user"))
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
	if err := s.gw.Disconnect(r.Context(), r.PathValue("action_id"), r.PathValue("user")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) proxy(w http.ResponseWriter, r *http.Request) error {
	if err := s.perUser.allow(r.Header.Get(gateway.UserHeader), "user"); err != nil {
		return err
	}
	return s.gw.Proxy(w, r, r.PathValue("action_id"), r.PathValue("path"))
}
