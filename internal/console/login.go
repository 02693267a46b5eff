package console

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/store"
)

type loginView struct {
	Next  string
	Nonce string
}

// loginPage shows the sign-in form. Before there is a session, the form is
// protected by a double-submitted nonce (a SameSite=Strict cookie that must
// match the form field) and the cross-origin check.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if c.session(r) != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.showLogin(w, r, http.StatusOK, r.URL.Query().Get("next"), nil)
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, next string, e *apierr.Error) {
	nonce := randomString()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: nonce, Path: "/ui/login", MaxAge: 3600,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
	c.render(w, r, status, "login.html", view{Title: "Sign in", Error: e, Page: loginView{Next: next, Nonce: nonce}})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	next := r.PostFormValue("next")
	ck, err := r.Cookie(loginCookie)
	if c.cop.Check(r) != nil || err != nil || ck.Value == "" ||
		subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue(csrfField))) != 1 {
		c.showLogin(w, r, http.StatusForbidden, next, apierr.New(apierr.Forbidden, "The sign-in form expired. Try again."))
		return
	}
	if !c.limiter.allow(clientAddr(r)) {
		c.showLogin(w, r, http.StatusTooManyRequests, next, apierr.New(apierr.RateLimited, "Too many failed sign-ins. Wait a minute and try again."))
		return
	}
	p, err := c.tokens.Authenticate(r.Context(), strings.TrimSpace(r.PostFormValue("token")))
	if err != nil {
		if e := apierr.From(err); e.Code != apierr.Unauthorized {
			c.log.Error("console sign-in", "err", err)
			c.showLogin(w, r, http.StatusInternalServerError, next, apierr.New(apierr.Internal, "The token could not be checked. Try again in a moment."))
			return
		}
		c.limiter.failed(clientAddr(r))
		c.log.Info("console sign-in refused", "reason", "unknown token")
		c.showLogin(w, r, http.StatusUnauthorized, next, apierr.New(apierr.Unauthorized, "That token is not valid."))
		return
	}
	if !p.Can(store.ScopeAdmin) {
		c.limiter.failed(clientAddr(r))
		c.log.Info("console sign-in refused", "reason", "no admin scope", "actor", p.TokenID)
		c.showLogin(w, r, http.StatusForbidden, next, apierr.New(apierr.Forbidden, "That token lacks the admin scope. The console needs an admin token."))
		return
	}
	id, _ := c.sessions.create(p.TokenID, p.Scopes)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/ui", HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/ui/login", MaxAge: -1, HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
	c.log.Info("console sign-in", "actor", p.TokenID)
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) error {
	c.sessions.end(sessionFrom(r.Context()))
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/ui", MaxAge: -1, HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
	c.redirect(w, r, "/ui/login")
	return nil
}
