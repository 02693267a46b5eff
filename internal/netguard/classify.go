package netguard

import "net/netip"

// Address classes returned by Classify. They are plain strings so they read well
// in error messages ("resolves to a loopback address").
const (
	classInvalid     = "invalid"
	classUnspecified = "unspecified"
	classLoopback    = "loopback"
	classPrivate     = "private"
	classCGNAT       = "cgnat"
	classLinkLocal   = "link-local"
	classMulticast   = "multicast"
	classBroadcast   = "broadcast"
	classReserved    = "reserved"
)

type prefixClass struct {
	prefix netip.Prefix
	class  string
}

// v4Classes lists the IPv4 ranges that are not globally reachable, from the IANA
// IPv4 Special-Purpose Address Registry (RFC 6890) plus multicast and class E.
// The first match wins, so a narrower range must come before a wider one.
var v4Classes = []prefixClass{
	{netip.MustParsePrefix("0.0.0.0/8"), classUnspecified}, // "this network"; Linux connects 0.0.0.0 to the local host
	{netip.MustParsePrefix("10.0.0.0/8"), classPrivate},
	{netip.MustParsePrefix("100.64.0.0/10"), classCGNAT}, // RFC 6598 shared address space
	{netip.MustParsePrefix("127.0.0.0/8"), classLoopback},
	{netip.MustParsePrefix("169.254.0.0/16"), classLinkLocal}, // includes the cloud metadata address 169.254.169.254
	{netip.MustParsePrefix("172.16.0.0/12"), classPrivate},
	{netip.MustParsePrefix("192.0.0.0/24"), classReserved},   // IETF protocol assignments, incl. NAT64 discovery
	{netip.MustParsePrefix("192.0.2.0/24"), classReserved},   // TEST-NET-1
	{netip.MustParsePrefix("192.88.99.0/24"), classReserved}, // deprecated 6to4 relay anycast
	{netip.MustParsePrefix("192.168.0.0/16"), classPrivate},
	{netip.MustParsePrefix("198.18.0.0/15"), classReserved},   // benchmarking
	{netip.MustParsePrefix("198.51.100.0/24"), classReserved}, // TEST-NET-2
	{netip.MustParsePrefix("203.0.113.0/24"), classReserved},  // TEST-NET-3
	{netip.MustParsePrefix("224.0.0.0/4"), classMulticast},
	{netip.MustParsePrefix("255.255.255.255/32"), classBroadcast},
	{netip.MustParsePrefix("240.0.0.0/4"), classReserved}, // class E
}

// v6Classes lists the IPv6 ranges handled before the global-unicast test in
// Classify (IANA IPv6 Special-Purpose Address Registry). IPv4-mapped addresses
// never reach this table: Classify unmaps them first.
var v6Classes = []prefixClass{
	{netip.MustParsePrefix("::/128"), classUnspecified},
	{netip.MustParsePrefix("::1/128"), classLoopback},
	{netip.MustParsePrefix("64:ff9b:1::/48"), classPrivate}, // RFC 8215 local-use NAT64: the embedded IPv4 position varies
	{netip.MustParsePrefix("2001::/23"), classReserved},     // IETF protocol assignments, incl. Teredo and benchmarking
	{netip.MustParsePrefix("2001:db8::/32"), classReserved}, // documentation
	{netip.MustParsePrefix("3fff::/20"), classReserved},     // documentation (RFC 9637)
	{netip.MustParsePrefix("fc00::/7"), classPrivate},       // unique local addresses
	{netip.MustParsePrefix("fe80::/10"), classLinkLocal},
	{netip.MustParsePrefix("fec0::/10"), classPrivate}, // deprecated site-local
	{netip.MustParsePrefix("ff00::/8"), classMulticast},
}

var (
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: IPv4 in the last 32 bits
	sixToFour      = netip.MustParsePrefix("2002::/16")    // RFC 3056: IPv4 in bits 16–47
	globalUnicast  = netip.MustParsePrefix("2000::/3")
)

// Classify names the class of a non-public address: "unspecified", "loopback",
// "private" (RFC 1918, fc00::/7), "cgnat" (100.64.0.0/10), "link-local",
// "multicast", "broadcast", "reserved" (documentation, benchmarking, class E,
// IPv6 outside 2000::/3 and similar) or "invalid" for the zero Addr. It returns
// "" for a public address.
//
// IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) are classified as the IPv4
// address they carry, and so are NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
// addresses, so 64:ff9b::7f00:1 is "loopback" while 64:ff9b::808:808 is public.
// An IPv6 zone is ignored.
func Classify(ip netip.Addr) string {
	if !ip.IsValid() {
		return classInvalid
	}
	ip = ip.WithZone("").Unmap() // Prefix.Contains is false for any address with a zone
	if ip.Is4() {
		return lookup(v4Classes, ip)
	}
	b := ip.As16()
	switch {
	case nat64WellKnown.Contains(ip):
		return Classify(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(ip):
		return Classify(netip.AddrFrom4([4]byte(b[2:6])))
	}
	if c := lookup(v6Classes, ip); c != "" {
		return c
	}
	if !globalUnicast.Contains(ip) {
		return classReserved // IANA has allocated no public unicast space outside 2000::/3
	}
	return ""
}

func lookup(table []prefixClass, ip netip.Addr) string {
	for _, pc := range table {
		if pc.prefix.Contains(ip) {
			return pc.class
		}
	}
	return ""
}

// Allowed reports whether a connection to ip is permitted. Public addresses
// always are. With allowPrivate every other unicast address is too (loopback,
// private, link-local, CGNAT, unspecified, reserved); multicast, broadcast and
// the zero Addr never are, since no TCP connection can be made to them.
func Allowed(ip netip.Addr, allowPrivate bool) bool {
	switch Classify(ip) {
	case "":
		return true
	case classInvalid, classMulticast, classBroadcast:
		return false
	default:
		return allowPrivate
	}
}
