package netguard

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// CheckURL is the static check of a URL that actiongate will call (an action's
// server URL, an OAuth token URL): it is meant to run when the URL is configured,
// so a bad one is refused early with a clear message. It does not resolve names;
// what a name resolves to is checked by Policy.DialContext on every connection.
//
// The scheme must be https. Plain http is accepted only when allowPrivate is set:
// allow-private-networks lets actions and token URLs reach loopback and private
// addresses, and plain http:// there. A scheme problem wraps ErrScheme.
//
// Every other problem wraps ErrBlocked: a missing host, user info in the URL
// (credentials there would be sent to the server and logged), an invalid port, a
// host written as a number in a form other than dotted-quad IPv4 (such as
// "2130706433" or "0x7f.1", which some resolvers read as 127.0.0.1), an IP-literal
// host that Allowed refuses, and, without allowPrivate, "localhost" and names
// under ".localhost" (RFC 6761). Messages never repeat the user info.
func CheckURL(u *url.URL, allowPrivate bool) error {
	if u == nil {
		return blocked("no URL")
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "https":
	case "http":
		if !allowPrivate {
			return fmt.Errorf("%w: plain http is not allowed, use https", ErrScheme)
		}
	default:
		return fmt.Errorf("%w: %q, use https", ErrScheme, scheme)
	}
	host := u.Hostname()
	if host == "" {
		return blocked("URL has no host")
	}
	if u.User != nil {
		return blocked("URL for %q must not contain user info", host)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return blocked("URL for %q has an invalid port", host)
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !Allowed(ip, allowPrivate) {
			return blockedAddr(host, ip)
		}
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if endsInNumber(name) {
		return blocked("%q is not a valid host name", host)
	}
	if !allowPrivate && (name == "localhost" || strings.HasSuffix(name, ".localhost")) {
		return blocked("%q resolves to a loopback address", host)
	}
	return nil
}

// endsInNumber reports whether the last label of name is a number (decimal,
// octal or 0x-hex), which the WHATWG URL standard and inet_aton-style resolvers
// read as an IPv4 address ("127.1", "0x7f000001"). No DNS top-level domain is
// numeric, so such a name is never a real host name.
func endsInNumber(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	if last == "" {
		return false
	}
	if hex, ok := strings.CutPrefix(last, "0x"); ok { // name is lower case
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}
