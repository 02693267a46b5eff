package gateway

import "testing"

func TestProxyPath(t *testing.T) {
	ok := map[string][2]string{ // raw → escaped, decoded
		"":               {"", ""},
		"items/7":        {"items/7", "items/7"},
		"a%2Fb":          {"a%2Fb", "a/b"},
		"a%20b/..%20x":   {"a%20b/..%20x", "a b/.. x"},
		"a;v=1/b":        {"a;v=1/b", "a;v=1/b"},
		".hidden/x..y":   {".hidden/x..y", ".hidden/x..y"},
		"%2ehidden/a.b.": {"%2ehidden/a.b.", ".hidden/a.b."},
		"a!b'(c)*[d]":    {"a!b'(c)*%5Bd%5D", "a!b'(c)*[d]"},
		"group%2Fp|x":    {"group%2Fp%7Cx", "group/p|x"},
		"ä/{x}":          {"%C3%A4/%7Bx%7D", "ä/{x}"},
		"a%252e%252e":    {"a%252e%252e", "a%2e%2e"},
	}
	for in, want := range ok {
		esc, dec, err := proxyPath(in)
		if err != nil || esc != want[0] || dec != want[1] {
			t.Errorf("proxyPath(%q) = %q, %q, %v; want %q, %q", in, esc, dec, err, want[0], want[1])
		}
	}
	for _, in := range []string{"..", ".", "a/../b", "a/./b", "%2e%2e", "%2E.", ".%2e/x", "..;x", "%2e%2e%3bx",
		"..%2Fetc", "x%2F..%2Fy", "..%5Cx", "x%5C..", "a/%zz", "a/%2", "...", "..%20", "..%09", ".. /x", "..%00/x",
		"a%00b", "%ef%bc%8e%ef%bc%8e", "..%ef%bc%8fetc", `..\x`} {
		if esc, dec, err := proxyPath(in); err == nil {
			t.Errorf("proxyPath(%q) = %q, %q; want an error", in, esc, dec)
		}
	}
}
