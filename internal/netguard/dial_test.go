package netguard

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is an httptest server on 127.0.0.1 that counts the requests it receives.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// startDNS runs a minimal UDP DNS server on 127.0.0.1 and returns a Go resolver
// that uses it. Every A query is answered with answerA(); any other query gets an
// empty answer. The few bytes are written by hand because this module does not
// depend on golang.org/x/net/dns/dnsmessage.
func startDNS(t *testing.T, answerA func() netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return // closed
			}
			if resp := dnsResponse(buf[:n], answerA); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp4", addr)
		},
	}
}

// dnsResponse builds the answer to query, a DNS message with one question (RFC 1035
// section 4.1), or returns nil when query is malformed.
func dnsResponse(query []byte, answerA func() netip.Addr) []byte {
	if len(query) < 12 {
		return nil
	}
	end := 12 // the question: length-prefixed labels, a zero byte, QTYPE, QCLASS
	for end < len(query) && query[end] != 0 {
		end += int(query[end]) + 1
	}
	end += 1 + 4
	if end > len(query) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(query[end-4:])

	resp := make([]byte, 12, 64)
	copy(resp, query[:2])                 // ID
	resp[2] = 0x80 | 0x04 | query[2]&0x01 // QR, AA, RD copied
	resp[3] = 0x80                        // RA, RCODE success
	binary.BigEndian.PutUint16(resp[4:], 1)
	resp = append(resp, query[12:end]...)
	if qtype == 1 { // A
		binary.BigEndian.PutUint16(resp[6:], 1)
		ip := answerA().As4()
		// Name: pointer to the question at offset 12; TYPE A, CLASS IN, TTL 0, RDLENGTH 4.
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4)
		resp = append(resp, ip[:]...)
	}
	return resp
}

// testHost is a name that only the test DNS server knows.
const testHost = "api.rebind.test"

// hostURL is srv's URL with its host replaced by name, keeping the port.
func hostURL(t *testing.T, srv *httptest.Server, name string) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = net.JoinHostPort(name, u.Port())
	return u.String()
}

func get(t *testing.T, c *http.Client, rawURL string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

// safeMessage is the message of the error netguard returned, without the
// *url.Error that http.Client wraps around it (whose message repeats the URL).
func safeMessage(t *testing.T, err error) string {
	t.Helper()
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatalf("error %v is not a *url.Error", err)
	}
	return ue.Err.Error()
}

func TestLoopbackServerBlockedByDefault(t *testing.T) {
	srv, hits := countingServer(t)

	_, err := get(t, NewClient(Policy{}), srv.URL)
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("GET %s: error = %v, want ErrBlocked", srv.URL, err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	host, _, _ = net.SplitHostPort(host)
	want := `netguard: destination blocked: "` + host + `" is a loopback address`
	if got := safeMessage(t, err); got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	if reason, private, ok := Refusal(err); !ok || !private || reason != `"`+host+`" is a loopback address` {
		t.Errorf("Refusal = %q, %v, %v; want the reason without prefix, allowed with AllowPrivate", reason, private, ok)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server received %d requests, want 0", n)
	}

	resp, err := get(t, NewClient(Policy{AllowPrivate: true}), srv.URL)
	if err != nil {
		t.Fatalf("with AllowPrivate: %v", err)
	}
	if resp.StatusCode != http.StatusNoContent || hits.Load() != 1 {
		t.Errorf("with AllowPrivate: status %d, %d hits; want 204, 1", resp.StatusCode, hits.Load())
	}
}

func TestHostNameResolvingToLoopbackBlockedAtDial(t *testing.T) {
	srv, hits := countingServer(t)
	var queries atomic.Int32
	resolver := startDNS(t, func() netip.Addr {
		queries.Add(1)
		return netip.MustParseAddr("127.0.0.1")
	})
	target := hostURL(t, srv, testHost)

	_, err := get(t, NewClient(Policy{Resolver: resolver}), target)
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("GET %s: error = %v, want ErrBlocked", target, err)
	}
	msg := safeMessage(t, err)
	if want := `netguard: destination blocked: "` + testHost + `" resolves to a loopback address`; msg != want {
		t.Errorf("message = %q, want %q", msg, want)
	}
	if strings.Contains(msg, "127.0.0.1") {
		t.Errorf("message %q reveals the resolved address", msg)
	}
	if queries.Load() == 0 {
		t.Error("the test DNS server was never asked: the name was not resolved through Policy.Resolver")
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server received %d requests, want 0", n)
	}

	// The same name and resolver work when private networks are allowed, so the
	// refusal above came from the address check, not from a failed lookup.
	if _, err := get(t, NewClient(Policy{Resolver: resolver, AllowPrivate: true}), target); err != nil {
		t.Fatalf("with AllowPrivate: %v", err)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("with AllowPrivate: server received %d requests, want 1", n)
	}
}

// TestDNSRebinding: the name resolves to a public address when first looked up
// (as a check-then-connect guard would see it) and to 127.0.0.1 when dialled.
func TestDNSRebinding(t *testing.T) {
	srv, hits := countingServer(t)
	var queries atomic.Int32
	resolver := startDNS(t, func() netip.Addr {
		if queries.Add(1) == 1 {
			return netip.MustParseAddr("93.184.216.34")
		}
		return netip.MustParseAddr("127.0.0.1")
	})

	first, err := resolver.LookupNetIP(t.Context(), "ip4", testHost)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || !Allowed(first[0], false) {
		t.Fatalf("first lookup = %v, want one public address", first)
	}

	_, err = get(t, NewClient(Policy{Resolver: resolver}), hostURL(t, srv, testHost))
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("after rebinding: error = %v, want ErrBlocked", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server received %d requests, want 0", n)
	}
}

func TestDialLocalhost(t *testing.T) {
	srv, _ := countingServer(t)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("localhost", port)

	conn, err := Policy{}.DialContext(t.Context(), "tcp", addr)
	if !errors.Is(err, ErrBlocked) {
		if conn != nil {
			conn.Close()
		}
		t.Fatalf("DialContext(%s) error = %v, want ErrBlocked", addr, err)
	}
	if want := `netguard: destination blocked: "localhost" resolves to a loopback address`; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}

	conn, err = Policy{AllowPrivate: true}.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatalf("with AllowPrivate: %v", err)
	}
	conn.Close()
}

func TestDialRejectsNonTCP(t *testing.T) {
	for _, network := range []string{"udp", "udp4", "unix", "ip4:icmp", ""} {
		conn, err := Policy{AllowPrivate: true}.DialContext(t.Context(), network, "127.0.0.1:53")
		if conn != nil {
			conn.Close()
		}
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("DialContext(%q) error = %v, want ErrBlocked", network, err)
		}
	}
}

// TestCheckDial exercises the Control hook on the (network, address) pairs the
// kernel may be handed, including forms that no resolver in these tests returns.
func TestCheckDial(t *testing.T) {
	tests := []struct {
		network, address string
		allowPrivate     bool
		wantErr          string // "" when allowed
	}{
		{"tcp4", "8.8.8.8:443", false, ""},
		{"tcp6", "[2606:4700::1111]:443", false, ""},
		{"tcp4", "127.0.0.1:80", false, `"h" resolves to a loopback address`},
		{"tcp6", "[::1]:80", false, `"h" resolves to a loopback address`},
		{"tcp6", "[::ffff:127.0.0.1]:80", false, `"h" resolves to a loopback address`},
		{"tcp6", "[::ffff:169.254.169.254]:80", false, `"h" resolves to a link-local address`},
		{"tcp4", "169.254.169.254:80", false, `"h" resolves to a link-local address`},
		{"tcp6", "[fe80::1%eth0]:80", false, `"h" resolves to a link-local address`},
		{"tcp4", "0.0.0.0:80", false, `"h" resolves to an unspecified address`},
		{"tcp6", "[::]:80", false, `"h" resolves to an unspecified address`},
		{"tcp4", "10.1.2.3:80", false, `"h" resolves to a private address`},
		{"tcp4", "100.64.0.1:80", false, `"h" resolves to a cgnat address`},
		{"tcp6", "[64:ff9b::a9fe:a9fe]:80", false, `"h" resolves to a link-local address`},
		{"tcp4", "127.0.0.1:80", true, ""},
		{"tcp6", "[fc00::1]:80", true, ""},
		{"tcp4", "224.0.0.1:80", true, `"h" resolves to a multicast address`},
		{"udp4", "8.8.8.8:53", true, `network "udp4" is not allowed`},
		{"tcp4", "not-an-address", true, `"h" resolves to an unparsable address`},
	}
	for _, tt := range tests {
		err := Policy{AllowPrivate: tt.allowPrivate}.checkDial("h", tt.network, tt.address)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("checkDial(%s %s, allowPrivate=%v) = %v, want nil", tt.network, tt.address, tt.allowPrivate, err)
			}
			continue
		}
		if !errors.Is(err, ErrBlocked) || err.Error() != "netguard: destination blocked: "+tt.wantErr {
			t.Errorf("checkDial(%s %s, allowPrivate=%v) = %v, want ErrBlocked: %s", tt.network, tt.address, tt.allowPrivate, err, tt.wantErr)
		}
	}
}

func TestNewTransport(t *testing.T) {
	tr := NewTransport(Policy{})
	if tr.Proxy != nil {
		t.Error("Proxy is set: an environment proxy would choose the address connected to")
	}
	if tr.DialContext == nil || tr.DialTLSContext != nil {
		t.Error("every connection must be made by the guarded DialContext")
	}
	if !tr.ForceAttemptHTTP2 {
		t.Error("ForceAttemptHTTP2 is off")
	}
	if tr.MaxIdleConnsPerHost < 64 {
		t.Errorf("MaxIdleConnsPerHost = %d, want at least 64", tr.MaxIdleConnsPerHost)
	}
	if tr.ResponseHeaderTimeout != 0 {
		t.Errorf("ResponseHeaderTimeout = %v, want 0 (callers use context deadlines)", tr.ResponseHeaderTimeout)
	}
	c := NewClient(Policy{})
	if c.Timeout != 0 || c.CheckRedirect == nil || c.Jar != nil {
		t.Errorf("NewClient: Timeout %v, CheckRedirect set %v, Jar %v; want 0, true, nil", c.Timeout, c.CheckRedirect != nil, c.Jar)
	}
}

func TestConnectTimeout(t *testing.T) {
	for _, tt := range []struct{ set, want time.Duration }{
		{0, 10 * time.Second},
		{-time.Second, 10 * time.Second},
		{3 * time.Second, 3 * time.Second},
	} {
		if got := (Policy{ConnectTimeout: tt.set}).connectTimeout(); got != tt.want {
			t.Errorf("ConnectTimeout %v: dialer timeout %v, want %v", tt.set, got, tt.want)
		}
	}
}

func TestRefusalOfUnreachableClasses(t *testing.T) {
	// Multicast is refused even with AllowPrivate: no hint to allow it.
	_, err := get(t, NewClient(Policy{AllowPrivate: true}), "http://224.0.0.1:80/")
	reason, private, ok := Refusal(err)
	if !ok || private || !strings.Contains(reason, "multicast") {
		t.Fatalf("Refusal = %q, %v, %v (err %v)", reason, private, ok, err)
	}
	if _, _, ok := Refusal(errors.New("other")); ok {
		t.Fatal("Refusal accepted an error that is not a refusal")
	}
}
