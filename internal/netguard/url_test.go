package netguard

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url          string
		allowPrivate bool
		want         error  // nil, ErrBlocked or ErrScheme
		msg          string // the exact message when want is not nil
	}{
		{"https://api.example.com/v1", false, nil, ""},
		{"HTTPS://api.example.com:8443/v1?q=1", false, nil, ""},
		{"https://8.8.8.8/", false, nil, ""},
		{"https://[2606:4700::1111]/", false, nil, ""},
		{"https://api.example.com./", false, nil, ""},
		{"https://v1.api/", false, nil, ""},
		{"https://0xfood.example/", false, nil, ""}, // "0xfood" is not hex
		{"http://api.example.com/", true, nil, ""},
		{"http://127.0.0.1:8080/", true, nil, ""},
		{"http://localhost/", true, nil, ""},
		{"https://10.0.0.1/", true, nil, ""},

		{"http://api.example.com/", false, ErrScheme, "netguard: scheme not allowed: plain http is not allowed, use https"},
		{"ftp://api.example.com/", true, ErrScheme, `netguard: scheme not allowed: "ftp", use https`},
		{"file:///etc/passwd", true, ErrScheme, `netguard: scheme not allowed: "file", use https`},
		{"api.example.com/v1", true, ErrScheme, `netguard: scheme not allowed: "", use https`},

		{"https:///v1", false, ErrBlocked, "netguard: destination blocked: URL has no host"},
		{"https:api.example.com", false, ErrBlocked, "netguard: destination blocked: URL has no host"},
		{"https://:443/", false, ErrBlocked, "netguard: destination blocked: URL has no host"},
		{"https://user:hunter2@api.example.com/", false, ErrBlocked, `netguard: destination blocked: URL for "api.example.com" must not contain user info`},
		{"https://token@api.example.com/", true, ErrBlocked, `netguard: destination blocked: URL for "api.example.com" must not contain user info`},
		{"https://api.example.com:0/", false, ErrBlocked, `netguard: destination blocked: URL for "api.example.com" has an invalid port`},
		{"https://api.example.com:65536/", false, ErrBlocked, `netguard: destination blocked: URL for "api.example.com" has an invalid port`},
		{"https://127.0.0.1/", false, ErrBlocked, `netguard: destination blocked: "127.0.0.1" is a loopback address`},
		{"https://[::1]:8443/", false, ErrBlocked, `netguard: destination blocked: "::1" is a loopback address`},
		{"https://[::ffff:127.0.0.1]/", false, ErrBlocked, `netguard: destination blocked: "::ffff:127.0.0.1" is a loopback address`},
		{"https://169.254.169.254/latest/meta-data/", false, ErrBlocked, `netguard: destination blocked: "169.254.169.254" is a link-local address`},
		{"https://[::ffff:169.254.169.254]/", false, ErrBlocked, `netguard: destination blocked: "::ffff:169.254.169.254" is a link-local address`},
		{"https://[fe80::1%25eth0]/", false, ErrBlocked, `netguard: destination blocked: "fe80::1%eth0" is a link-local address`},
		{"https://0.0.0.0/", false, ErrBlocked, `netguard: destination blocked: "0.0.0.0" is an unspecified address`},
		{"https://[::]/", false, ErrBlocked, `netguard: destination blocked: "::" is an unspecified address`},
		{"https://192.168.1.1/", false, ErrBlocked, `netguard: destination blocked: "192.168.1.1" is a private address`},
		{"https://100.64.1.1/", false, ErrBlocked, `netguard: destination blocked: "100.64.1.1" is a cgnat address`},
		{"https://[fc00::1]/", false, ErrBlocked, `netguard: destination blocked: "fc00::1" is a private address`},
		{"https://224.0.0.1/", true, ErrBlocked, `netguard: destination blocked: "224.0.0.1" is a multicast address`},
		{"https://localhost/", false, ErrBlocked, `netguard: destination blocked: "localhost" resolves to a loopback address`},
		{"https://LocalHost./", false, ErrBlocked, `netguard: destination blocked: "LocalHost." resolves to a loopback address`},
		{"https://api.localhost/", false, ErrBlocked, `netguard: destination blocked: "api.localhost" resolves to a loopback address`},
		{"https://2130706433/", true, ErrBlocked, `netguard: destination blocked: "2130706433" is not a valid host name`},
		{"https://127.1/", true, ErrBlocked, `netguard: destination blocked: "127.1" is not a valid host name`},
		{"https://0x7f.0x1/", true, ErrBlocked, `netguard: destination blocked: "0x7f.0x1" is not a valid host name`},
		{"https://0X7F000001/", true, ErrBlocked, `netguard: destination blocked: "0X7F000001" is not a valid host name`},
		{"https://0177.0.0.01/", true, ErrBlocked, `netguard: destination blocked: "0177.0.0.01" is not a valid host name`},
		{"https://example.123./", true, ErrBlocked, `netguard: destination blocked: "example.123." is not a valid host name`},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", tt.url, err)
		}
		err = CheckURL(u, tt.allowPrivate)
		if tt.want == nil {
			if err != nil {
				t.Errorf("CheckURL(%s, %v) = %v, want nil", tt.url, tt.allowPrivate, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) || err.Error() != tt.msg {
			t.Errorf("CheckURL(%s, %v) = %v, want %v: %s", tt.url, tt.allowPrivate, err, tt.want, tt.msg)
		}
	}
	if err := CheckURL(nil, true); !errors.Is(err, ErrBlocked) {
		t.Errorf("CheckURL(nil) = %v, want ErrBlocked", err)
	}
}

// FuzzCheckURL checks that CheckURL never panics, returns only ErrScheme or
// ErrBlocked errors, never repeats user info, and never accepts in the strict
// mode a URL it refuses with allowPrivate.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://api.example.com/v1",
		"http://127.0.0.1:8080/",
		"https://[fe80::1%25eth0]:443/",
		"https://[::ffff:169.254.169.254]/",
		"https://user:pass@host/",
		"https:opaque",
		"https://0x7f.1/",
		"https://localhost./",
		"//host/path",
		"https://host:99999/",
		"https://%31%32%37.0.0.1/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		strict := CheckURL(u, false)
		loose := CheckURL(u, true)
		for _, err := range []error{strict, loose} {
			if err == nil {
				continue
			}
			if !errors.Is(err, ErrBlocked) && !errors.Is(err, ErrScheme) {
				t.Fatalf("CheckURL(%q) = %v, neither ErrBlocked nor ErrScheme", raw, err)
			}
		}
		if u.User != nil {
			// Credentials in a URL must not reach the error message.
			const marker = "s3cr3t-marker"
			withMarker := *u
			withMarker.User = url.UserPassword(marker, marker)
			err := CheckURL(&withMarker, false)
			if err == nil || strings.Contains(err.Error(), marker) && !strings.Contains(raw, marker) {
				t.Fatalf("CheckURL(%q with user info) = %v, want an error that does not repeat it", raw, err)
			}
		}
		if strict == nil && loose != nil {
			t.Fatalf("CheckURL(%q) accepts strictly but refuses with allowPrivate: %v", raw, loose)
		}
		if strict == nil && (!strings.EqualFold(u.Scheme, "https") || u.Hostname() == "" || u.User != nil) {
			t.Fatalf("CheckURL(%q, false) accepted a URL that is not https with a host and no user info", raw)
		}
	})
}
