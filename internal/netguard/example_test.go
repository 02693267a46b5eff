package netguard_test

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"

	"github.com/actiongate/actiongate/internal/netguard"
)

func ExampleClassify() {
	for _, s := range []string{"8.8.8.8", "::ffff:127.0.0.1", "169.254.169.254", "100.64.0.1", "fd00::1"} {
		ip := netip.MustParseAddr(s)
		fmt.Printf("%s %q allowed=%v\n", s, netguard.Classify(ip), netguard.Allowed(ip, false))
	}
	// Output:
	// 8.8.8.8 "" allowed=true
	// ::ffff:127.0.0.1 "loopback" allowed=false
	// 169.254.169.254 "link-local" allowed=false
	// 100.64.0.1 "cgnat" allowed=false
	// fd00::1 "private" allowed=false
}

func ExampleCheckURL() {
	for _, s := range []string{"https://api.example.com/v1", "http://api.example.com/v1", "https://169.254.169.254/"} {
		u, _ := url.Parse(s)
		err := netguard.CheckURL(u, false)
		fmt.Println(errors.Is(err, netguard.ErrBlocked), errors.Is(err, netguard.ErrScheme), err)
	}
	// Output:
	// false false <nil>
	// false true netguard: scheme not allowed: plain http is not allowed, use https
	// true false netguard: destination blocked: "169.254.169.254" is a link-local address
}

func ExampleNewClient() {
	client := netguard.NewClient(netguard.Policy{})
	// Each call carries its own deadline:
	//
	//	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	//	defer cancel()
	//	req, err := http.NewRequestWithContext(ctx, http.MethodGet, serverURL+"/v1/items", nil)
	//	resp, err := client.Do(req)
	//	if errors.Is(err, netguard.ErrBlocked) { ... }
	_ = client
}
