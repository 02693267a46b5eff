package server

import (
	"embed"
	"html/template"
	"net/http"

	"github.com/actiongate/actiongate/internal/gateway"
)

//go:embed templates/*.html
var templateFS embed.FS

var pageTmpl = template.Must(template.ParseFS(templateFS, "templates/page.html"))

// pageCSP allows only the page's own inline style and its one inline script (the
// close button); no external assets, no framing.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) writePage(w http.ResponseWriter, p *gateway.Page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(p.Status)
	if err := pageTmpl.Execute(w, p); err != nil {
		s.log.Error("render page", "err", err)
	}
}

func (s *Server) startSignIn(w http.ResponseWriter, r *http.Request) {
	start, page := s.gw.StartSignIn(r.Context(), r.URL.Query().Get("link"))
	if page != nil {
		s.writePage(w, page)
		return
	}
	http.SetCookie(w, start.Cookie)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, start.RedirectURL, http.StatusFound)
}

func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	page := s.gw.Callback(r.Context(), r.URL.Query(), func(name string) string {
		c, err := r.Cookie(name)
		if err != nil {
			return ""
		}
		return c.Value
	})
	s.writePage(w, page)
}
