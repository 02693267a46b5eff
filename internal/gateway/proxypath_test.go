package gateway

import "testing"

func TestProxyPath(t *testing.T) {
	ok := map[string]string{
		"":                    "",
		"items/7":             "items/7",
		"a%2Fb":               "a/b",
		"a%20b/..%20x":        "a b/.. x",
		"...":                 "...",
		"a;v=1/b":             "a;v=1/b",
		".hidden/x..y":        ".hidden/x..y",
		"%2e%2e%2e/%2ehidden": ".../.hidden",
	}
	for in, want := range ok {
		got, err := proxyPath(in)
		if err != nil || got != want {
			t.Errorf("proxyPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"..", ".", "a/../b", "a/./b", "%2e%2e", "%2E.", ".%2e/x", "..;x", "%2e%2e%3bx",
		"..%2Fetc", "x%2F..%2Fy", "..%5Cx", "x%5C..", "a/%zz", "a/%2"} {
		if got, err := proxyPath(in); err == nil {
			t.Errorf("proxyPath(%q) = %q, want an error", in, got)
		}
	}
}
