package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/netguard"
	"github.com/actiongate/actiongate/internal/oauth"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/store/sqlite"
)

// The hot paths of a call, without the HTTP server in front: invoke (JSON
// in, JSON out) and proxy, for an api_key action and for an oauth action with
// a signed-in user (credential cache on, as with SQLite). The upstream is a
// local httptest server answering a small JSON document. bench/run.sh measures
// the whole server under load; these keep the per-call cost visible in CI
// (-benchtime=1x) and under pprof (-cpuprofile).

const benchSpec = `openapi: 3.0.3
info: {title: Bench, version: "1"}
servers: [{url: "%s"}]
paths:
  /items/{id}:
    get:
      operationId: getItem
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
`

func benchGateway(b *testing.B) (*Gateway, string) {
	b.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"42","name":"widget","price":9.5,"tags":["a","b"],"stock":{"count":3,"where":"shelf"}}`)
	}))
	b.Cleanup(up.Close)
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "actiongate.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	key, _ := secrets.GenerateKey()
	tr := netguard.NewTransport(netguard.Policy{AllowPrivate: true})
	tr.MaxIdleConnsPerHost = 64
	g := New(Options{Store: db, Keys: secrets.NewKeyring(key), PublicURL: "http://127.0.0.1", AllowPrivate: true,
		HTTPClient: &http.Client{Transport: tr}, CredentialCacheTTL: DefaultCacheTTL})
	return g, up.URL
}

func benchAction(b *testing.B, g *Gateway, upURL string, auth AuthInput) string {
	b.Helper()
	a, err := g.CreateAction(context.Background(), ActionInput{Name: "bench", Schema: fmt.Sprintf(benchSpec, upURL), Auth: auth})
	if err != nil {
		b.Fatal(err)
	}
	return a.ID
}

func apiKeyAuth() AuthInput {
	k := "bench-key-0123456789"
	return AuthInput{Auth: Auth{Type: AuthAPIKey, AuthType: KeyBearer}, APIKey: &k}
}

func oauthAction(b *testing.B, g *Gateway, upURL string) string {
	b.Helper()
	secret := "bench-client-secret"
	id := benchAction(b, g, upURL, AuthInput{Auth: Auth{Type: AuthOAuth, ClientID: "c",
		AuthorizationURL: upURL + "/authorize", TokenURL: upURL + "/token"}, ClientSecret: &secret})
	tok := &oauth.Token{AccessToken: secrets.New("bench-access-token"), RefreshToken: secrets.New("bench-refresh-token"),
		TokenType: "Bearer", ExpiresAt: time.Now().Add(24 * time.Hour)}
	if err := g.saveToken(context.Background(), id, "bench-user", tok, nil); err != nil {
		b.Fatal(err)
	}
	return id
}

func benchInvoke(b *testing.B, g *Gateway, id, user string) {
	in := InvokeRequest{Operation: "getItem", Arguments: map[string]any{"id": "42"}, User: user}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := g.Invoke(context.Background(), id, in)
			if err != nil || res.Status != 200 {
				b.Fatalf("%v %v", res, err)
			}
			if _, err := json.Marshal(res); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchProxy(b *testing.B, g *Gateway, id, user string) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", "/v1/proxy/"+id+"/items/42", nil)
			if user != "" {
				r.Header.Set(UserHeader, user)
			}
			w := httptest.NewRecorder()
			if err := g.Proxy(w, r, id, "items/42"); err != nil || w.Code != 200 {
				b.Fatalf("%d %v", w.Code, err)
			}
		}
	})
}

func BenchmarkInvokeAPIKey(b *testing.B) {
	g, up := benchGateway(b)
	benchInvoke(b, g, benchAction(b, g, up, apiKeyAuth()), "")
}

func BenchmarkInvokeOAuth(b *testing.B) {
	g, up := benchGateway(b)
	benchInvoke(b, g, oauthAction(b, g, up), "bench-user")
}

func BenchmarkProxyAPIKey(b *testing.B) {
	g, up := benchGateway(b)
	benchProxy(b, g, benchAction(b, g, up, apiKeyAuth()), "")
}

func BenchmarkProxyOAuth(b *testing.B) {
	g, up := benchGateway(b)
	benchProxy(b, g, oauthAction(b, g, up), "bench-user")
}

// BenchmarkProxyOAuthNoCache is the oauth proxy path as PostgreSQL fleets run
// it by default: the connection row is read and opened on every call.
func BenchmarkProxyOAuthNoCache(b *testing.B) {
	g, up := benchGateway(b)
	g.credTTL = 0
	benchProxy(b, g, oauthAction(b, g, up), "bench-user")
}
