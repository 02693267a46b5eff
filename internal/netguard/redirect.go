package netguard

import (
	"net/http"
	"net/url"
	"strings"
)

// SameHostRedirects returns an http.Client CheckRedirect func that follows at most
// limit redirects (none when limit <= 0), each only to the origin of the first request:
// the same scheme, host and port, the port defaulting by scheme. Any other redirect
// is not followed: it returns http.ErrUseLastResponse, so the client hands the 3xx
// response to the caller as the API's answer, and the credentials the caller
// attached are never sent to another origin. A redirect URL carrying user info is
// not followed either.
//
// This is stricter than net/http alone, which drops Authorization and Cookie only
// when the host name changes (not on a port change, and not towards a subdomain)
// and forwards every other header, an X-Api-Key included, to any host.
func SameHostRedirects(limit int) func(req *http.Request, via []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		// via holds the requests already made, oldest first; req would be number len(via)+1.
		if len(via) == 0 || len(via) > limit || req.URL.User != nil || !sameOrigin(via[0].URL, req.URL) {
			return http.ErrUseLastResponse
		}
		return nil
	}
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		portOrDefault(a) == portOrDefault(b)
}

func portOrDefault(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}
