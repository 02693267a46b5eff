package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/netguard"
)

// TestBlockedDestinationMessage: a refused destination is named without the
// resolved IP or the request URL (whose query may hold an API key), and a
// loopback or private one says how to allow it.
func TestBlockedDestinationMessage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/x?api_key=LEAKCHECK", nil)
	_, err := netguard.NewClient(netguard.Policy{}).Do(req)
	e := apierr.From(upstreamErr(context.Background(), err, "api.example.com"))
	if e.Code != apierr.DestinationBlocked {
		t.Fatalf("code %q, want destination_blocked", e.Code)
	}
	for _, want := range []string{"calls to api.example.com are not allowed", "loopback address", "ACTIONGATE_ALLOW_PRIVATE_NETWORKS=1"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q lacks %q", e.Message, want)
		}
	}
	if strings.Contains(e.Message, "LEAKCHECK") || strings.Contains(e.Message, "netguard") {
		t.Errorf("message %q shows the URL or the package", e.Message)
	}
}
