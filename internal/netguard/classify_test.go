package netguard

import (
	"net/netip"
	"testing"
)

func TestClassifyAndAllowed(t *testing.T) {
	tests := []struct {
		addr  string
		class string
	}{
		// Public.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.216.34", ""},
		{"100.63.255.255", ""}, // just below CGNAT
		{"100.128.0.0", ""},    // just above CGNAT
		{"172.15.255.255", ""}, // just below 172.16/12
		{"172.32.0.0", ""},     // just above 172.16/12
		{"2606:4700::1111", ""},
		{"2001:4860:4860::8888", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", ""},  // 6to4 of 8.8.8.8

		// Unspecified.
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"::", "unspecified"},
		{"::ffff:0.0.0.0", "unspecified"},

		// Loopback.
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"64:ff9b::7f00:1", "loopback"}, // NAT64 of 127.0.0.1
		{"2002:7f00:1::", "loopback"},   // 6to4 of 127.0.0.1

		// Private.
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"::ffff:10.1.2.3", "private"},
		{"::ffff:192.168.0.1", "private"},
		{"64:ff9b::a00:1", "private"}, // NAT64 of 10.0.0.1
		{"64:ff9b:1::1", "private"},   // local-use NAT64
		{"fc00::1", "private"},
		{"fd12:3456:789a::1", "private"},
		{"fec0::1", "private"},

		// Carrier-grade NAT.
		{"100.64.0.1", "cgnat"},
		{"100.127.255.255", "cgnat"},
		{"::ffff:100.64.0.1", "cgnat"},

		// Link-local.
		{"169.254.169.254", "link-local"},
		{"169.254.0.1", "link-local"},
		{"::ffff:169.254.169.254", "link-local"},
		{"64:ff9b::a9fe:a9fe", "link-local"}, // NAT64 of 169.254.169.254
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"febf::1", "link-local"},

		// Multicast and broadcast.
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"::ffff:224.0.0.1", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"::ffff:255.255.255.255", "broadcast"},

		// Reserved.
		{"192.0.0.170", "reserved"},
		{"192.0.2.1", "reserved"},
		{"198.18.0.1", "reserved"},
		{"198.51.100.1", "reserved"},
		{"203.0.113.1", "reserved"},
		{"240.0.0.1", "reserved"},
		{"::127.0.0.1", "reserved"},        // deprecated IPv4-compatible form
		{"::ffff:0:127.0.0.1", "reserved"}, // IPv4-translated (SIIT)
		{"100::1", "reserved"},             // discard-only
		{"2001::1", "reserved"},            // Teredo
		{"2001:db8::1", "reserved"},
		{"3fff::1", "reserved"},
		{"4000::1", "reserved"}, // outside 2000::/3
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.addr)
		if got := Classify(ip); got != tt.class {
			t.Errorf("Classify(%s) = %q, want %q", tt.addr, got, tt.class)
		}
		public := tt.class == ""
		if got := Allowed(ip, false); got != public {
			t.Errorf("Allowed(%s, false) = %v, want %v", tt.addr, got, public)
		}
		wantPrivate := tt.class != "multicast" && tt.class != "broadcast"
		if got := Allowed(ip, true); got != wantPrivate {
			t.Errorf("Allowed(%s, true) = %v, want %v", tt.addr, got, wantPrivate)
		}
	}
}

func TestClassifyZeroAddr(t *testing.T) {
	var zero netip.Addr
	if got := Classify(zero); got != "invalid" {
		t.Errorf("Classify(zero) = %q, want %q", got, "invalid")
	}
	if Allowed(zero, true) {
		t.Error("Allowed(zero, true) = true, want false")
	}
}
