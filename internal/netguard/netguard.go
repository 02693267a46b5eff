// Package netguard is actiongate's outbound HTTP client: it refuses to connect to
// loopback, private, link-local and other non-public addresses (unless the operator
// allows private networks) and checks every address as it is dialled, so DNS
// rebinding cannot steer a call to an internal service.
//
// The guard has two layers. CheckURL is a static check of a URL before any request
// is made (scheme, user info, IP-literal hosts). Policy.DialContext is the one that
// matters: its net.Dialer Control hook sees the exact IP the kernel is about to
// connect to, after name resolution, and refuses it when Allowed says no. A host
// name that resolves to a public address when checked and to 127.0.0.1 when dialled
// is therefore still refused. NewClient wires the dialer into an http.Client that
// ignores environment proxies and follows redirects only within the same origin.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

var (
	// ErrBlocked means the destination is not permitted: its address is in a
	// blocked class, or the URL or network is unusable for an outbound call.
	// Errors wrapping it have messages that name the host and the reason but never
	// the resolved IP, so they are safe to show users. Through an http.Client the
	// safe message is that of the *url.Error's Err field: the *url.Error's own
	// message repeats the request URL, query string (and any API key in it) included.
	ErrBlocked = errors.New("netguard: destination blocked")
	// ErrScheme means the URL scheme is not permitted (see CheckURL).
	ErrScheme = errors.New("netguard: scheme not allowed")
)

// blockedError is an ErrBlocked with a message safe to show users.
type blockedError struct {
	msg string
	// private: the address would be allowed with Policy.AllowPrivate.
	private bool
}

func (e *blockedError) Error() string        { return ErrBlocked.Error() + ": " + e.msg }
func (e *blockedError) Is(target error) bool { return target == ErrBlocked }

// Refusal returns the user-safe reason of an ErrBlocked error (without the
// package prefix, the resolved IP or the request URL), and whether the
// destination would be allowed with Policy.AllowPrivate. ok is false when err
// is not a refusal.
func Refusal(err error) (reason string, private, ok bool) {
	var be *blockedError
	if !errors.As(err, &be) {
		return "", false, false
	}
	return be.msg, be.private, true
}

func blocked(format string, args ...any) error {
	return &blockedError{msg: fmt.Sprintf(format, args...)}
}

// blockedAddr reports that host, which is ip or resolved to it, has a blocked address.
func blockedAddr(host string, ip netip.Addr) error {
	class := Classify(ip)
	var be *blockedError
	if _, err := netip.ParseAddr(host); err == nil { // an IP literal is never resolved
		be = &blockedError{msg: fmt.Sprintf("%q is %s address", host, article(class))}
	} else {
		be = &blockedError{msg: fmt.Sprintf("%q resolves to %s address", host, article(class))}
	}
	be.private = Allowed(ip, true)
	return be
}

func article(class string) string {
	switch class {
	case classInvalid:
		return "an invalid"
	case classUnspecified:
		return "an unspecified"
	}
	return "a " + class
}

// DefaultConnectTimeout is the connect timeout used when Policy.ConnectTimeout is not positive.
const DefaultConnectTimeout = 10 * time.Second

// Policy configures the guarded dialer. The zero value blocks every non-public
// address and uses the default resolver.
type Policy struct {
	// AllowPrivate lets calls reach loopback, private, link-local and other
	// non-public unicast addresses (see Allowed), and lets CheckURL accept http://.
	// It is meant for development and for gateways whose APIs live on a private network.
	AllowPrivate bool
	// ConnectTimeout bounds each TCP connect; zero or negative means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// DialContext connects like net.Dialer.DialContext but only over TCP and only to
// addresses Allowed by p. The address check runs in the dialer's Control hook, on
// each resolved IP just before the kernel connects to it; when a name resolves to
// several addresses, blocked ones are skipped and the next is tried.
//
// A refusal wraps ErrBlocked and is returned without the *net.OpError around it,
// whose message would show the resolved IP.
func (p Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, blocked("network %q is not allowed", network)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("netguard: %w", err)
	}
	d := net.Dialer{
		Timeout:   p.connectTimeout(),
		KeepAlive: 30 * time.Second,
		Resolver:  p.Resolver,
		ControlContext: func(_ context.Context, network, address string, _ syscall.RawConn) error {
			return p.checkDial(host, network, address)
		},
	}
	conn, err := d.DialContext(ctx, network, addr)
	if be := (*blockedError)(nil); errors.As(err, &be) {
		return nil, be
	}
	return conn, err
}

func (p Policy) connectTimeout() time.Duration {
	if p.ConnectTimeout <= 0 {
		return DefaultConnectTimeout
	}
	return p.ConnectTimeout
}

// checkDial is the Control hook: network and address are what the kernel is about
// to connect to ("tcp4", "10.0.0.1:443"); host is the name the caller asked for.
// It fails closed on anything it cannot parse.
func (p Policy) checkDial(host, network, address string) error {
	if network != "tcp4" && network != "tcp6" {
		return blocked("network %q is not allowed", network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return blocked("%q resolves to an unparsable address", host)
	}
	if !Allowed(ap.Addr(), p.AllowPrivate) {
		return blockedAddr(host, ap.Addr())
	}
	return nil
}

// NewTransport returns an http.Transport that dials through p.DialContext. It is
// built from scratch rather than cloned from http.DefaultTransport so that nothing
// set on the global (a proxy, a TLS config, a dial hook) leaks into the guard.
// Proxy is nil: an HTTP(S)_PROXY in the environment would otherwise make the
// proxy, not this dialer, choose the address connected to. ResponseHeaderTimeout
// is left unset; callers bound each call with a context deadline.
func NewTransport(p Policy) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           p.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
}

// maxRedirects is how many same-origin redirects NewClient follows.
const maxRedirects = 5

// NewClient returns an http.Client that dials through p (see NewTransport) and
// follows at most 5 redirects, all within the first request's origin (see
// SameHostRedirects). It sets no Timeout: callers bound each call with a context.
func NewClient(p Policy) *http.Client {
	return &http.Client{
		Transport:     NewTransport(p),
		CheckRedirect: SameHostRedirects(maxRedirects),
	}
}
