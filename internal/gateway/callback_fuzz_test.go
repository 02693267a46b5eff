package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/store/sqlite"
)

// noNetwork fails any outgoing request: a forged callback must never reach a
// token endpoint.
type noNetwork struct{ t *testing.T }

func (n noNetwork) RoundTrip(r *http.Request) (*http.Response, error) {
	n.t.Errorf("a callback made a request to %s", r.URL.Host)
	return nil, errors.New("no network in this test")
}

// FuzzCallback feeds arbitrary callback queries, cookies and sign-in links to
// the gateway: it must never panic, never answer 200 and never make a request.
func FuzzCallback(f *testing.F) {
	f.Add("code=abc&state=xyz", "ag_state_0123456789abcdef", "v", "")
	f.Add("error=access_denied&state=s", "", "", "")
	f.Add("state=%00%ff&code=", "x", "y", "AAAA")
	f.Add("", "", "", "not-base64!")
	f.Add("state="+string(make([]byte, 300)), "", "", "")
	db, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "a.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	key, _ := secrets.GenerateKey()
	f.Fuzz(func(t *testing.T, query, cookieName, cookieValue, link string) {
		g := gateway.New(gateway.Options{Store: db, Keys: secrets.NewKeyring(key), PublicURL: "http://gw.test",
			HTTPClient: &http.Client{Transport: noNetwork{t}}})
		q, err := url.ParseQuery(query)
		if err != nil {
			q = url.Values{"state": {query}}
		}
		p := g.Callback(context.Background(), q, func(name string) string {
			if name == cookieName {
				return cookieValue
			}
			return ""
		})
		if p == nil || p.Status == http.StatusOK {
			t.Fatalf("callback %q answered %+v", query, p)
		}
		if start, page := g.StartSignIn(context.Background(), link); start != nil || page == nil || page.Status == http.StatusOK {
			t.Fatalf("link %q: %+v %+v", link, start, page)
		}
	})
}
