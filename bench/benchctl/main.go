// Command benchctl drives actiongate for the benchmark in bench/run.sh. It is a
// bench-only helper: nothing in the gateway depends on it.
//
//	benchctl setup   create the api_key and oauth actions and sign the bench user in
//	                 through a stub OAuth provider; prints shell assignments
//	benchctl storm   1,000 concurrent invokes on an expired token; counts token requests
//	benchctl insert  add connection rows straight into the SQLite file (scale case)
//	benchctl latency sequential invokes, one user or distinct users; prints p50/p99
//
// The gateway URL and admin token come from -gw and BENCH_ADMIN_TOKEN.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/store"
	"github.com/actiongate/actiongate/internal/store/sqlite"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchctl setup|storm|insert|latency [flags]")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "setup":
		err = setup(args)
	case "storm":
		err = storm(args)
	case "insert":
		err = insert(args)
	case "latency":
		err = latency(args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchctl:", err)
		os.Exit(1)
	}
}

// document is the benchmark API: one read operation.
const document = `{"openapi": "3.0.3", "info": {"title": "Bench", "version": "1"},
 "paths": {"/items/{id}": {"get": {"operationId": "getItem",
   "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
   "responses": {"200": {"description": "the item"}}}}}}`

// UpstreamToken is the API key the api_key action sends.
const UpstreamToken = "bench-upstream-token"

type api struct {
	base, token string
	c           *http.Client
}

func newAPI(base string) *api {
	tok := os.Getenv("BENCH_ADMIN_TOKEN")
	tr := &http.Transport{MaxIdleConnsPerHost: 2048, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext}
	return &api{base: strings.TrimRight(base, "/"), token: tok, c: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

func (a *api) do(method, path string, in any, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, body)
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, nil
}

func (a *api) createAction(name, serverURL string, auth map[string]any) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	_, err := a.do("POST", "/v1/actions", map[string]any{"name": name, "schema": document, "server_url": serverURL, "auth": auth}, &out)
	return out.ID, err
}

// invoke calls getItem for user and checks that the API answered 200.
func (a *api) invoke(action, user string) error {
	var out struct {
		Status int `json:"status"`
	}
	in := map[string]any{"operation": "getItem", "arguments": map[string]any{"id": "42"}}
	if user != "" {
		in["user"] = user
	}
	if _, err := a.do("POST", "/v1/actions/"+action+"/invoke", in, &out); err != nil {
		return err
	}
	if out.Status != 200 {
		return fmt.Errorf("invoke: the API answered %d", out.Status)
	}
	return nil
}

// provider is a stub OAuth provider: /authorize redirects straight back with a
// code, /token answers codes and refresh tokens, counting refreshes.
type provider struct {
	url       string
	expiresIn atomic.Int64 // of tokens from code exchanges
	refreshes atomic.Int64
	exchanges atomic.Int64
	delay     time.Duration // before answering a refresh
	n         atomic.Int64
	srv       *http.Server
}

func startProvider(delay time.Duration) (*provider, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &provider{url: "http://" + ln.Addr().String(), delay: delay}
	p.expiresIn.Store(86400)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		cb, err := url.Parse(q.Get("redirect_uri"))
		if err != nil {
			http.Error(w, "bad redirect_uri", 400)
			return
		}
		v := cb.Query()
		v.Set("code", fmt.Sprintf("code-%d", p.n.Add(1)))
		v.Set("state", q.Get("state"))
		cb.RawQuery = v.Encode()
		http.Redirect(w, r, cb.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		n := p.n.Add(1)
		exp := int64(3600)
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			p.exchanges.Add(1)
			exp = p.expiresIn.Load()
		case "refresh_token":
			p.refreshes.Add(1)
			time.Sleep(p.delay)
		default:
			http.Error(w, `{"error":"unsupported_grant_type"}`, 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"at-%d","refresh_token":"rt-%d","token_type":"Bearer","expires_in":%d,"scope":"read"}`, n, n, exp)
	})
	p.srv = &http.Server{Handler: mux}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *provider) oauthAuth() map[string]any {
	return map[string]any{"type": "oauth", "client_id": "bench", "client_secret": "bench-secret",
		"authorization_url": p.url + "/authorize", "token_url": p.url + "/token", "scope": "read"}
}

// signIn signs user in to action through POST /v1/connect and the browser flow.
func (a *api) signIn(action, user string) error {
	var si struct {
		URL string `json:"sign_in_url"`
	}
	if _, err := a.do("POST", "/v1/connect", map[string]any{"user": user, "action": action}, &si); err != nil {
		return err
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := browser.Get(si.URL)
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("sign-in: %d %s", resp.StatusCode, page)
	}
	return nil
}

func setup(args []string) error {
	fs := flag.NewFlagSet("setup", flag.ExitOnError)
	gw := fs.String("gw", "http://127.0.0.1:9105", "gateway URL")
	upstream := fs.String("upstream", "http://127.0.0.1:9101", "upstream URL")
	user := fs.String("user", "bench-user", "end user to sign in")
	_ = fs.Parse(args)
	a := newAPI(*gw)
	keyAction, err := a.createAction("Bench api_key", *upstream, map[string]any{"type": "api_key", "api_key": UpstreamToken, "auth_type": "bearer"})
	if err != nil {
		return err
	}
	p, err := startProvider(0)
	if err != nil {
		return err
	}
	defer p.srv.Close()
	oauthAction, err := a.createAction("Bench oauth", *upstream, p.oauthAuth())
	if err != nil {
		return err
	}
	if err := a.signIn(oauthAction, *user); err != nil {
		return err
	}
	if err := a.invoke(keyAction, ""); err != nil {
		return fmt.Errorf("api_key action: %w", err)
	}
	if err := a.invoke(oauthAction, *user); err != nil {
		return fmt.Errorf("oauth action: %w", err)
	}
	fmt.Printf("APIKEY_ACTION=%s\nOAUTH_ACTION=%s\nBENCH_USER=%s\n", keyAction, oauthAction, *user)
	return nil
}

// storm: an oauth action whose token has gone stale, then n calls at once.
func storm(args []string) error {
	fs := flag.NewFlagSet("storm", flag.ExitOnError)
	gw := fs.String("gw", "http://127.0.0.1:9105", "gateway URL")
	upstream := fs.String("upstream", "http://127.0.0.1:9101", "upstream URL")
	n := fs.Int("n", 1000, "concurrent calls")
	mode := fs.String("mode", "invoke", "invoke or proxy")
	_ = fs.Parse(args)
	a := newAPI(*gw)
	p, err := startProvider(100 * time.Millisecond) // a slow token endpoint, so calls pile up behind it
	if err != nil {
		return err
	}
	defer p.srv.Close()
	p.expiresIn.Store(2) // stale after 1s: the gateway refreshes with less than lifetime/2 left
	action, err := a.createAction("Bench storm", *upstream, p.oauthAuth())
	if err != nil {
		return err
	}
	const user = "storm-user"
	if err := a.signIn(action, user); err != nil {
		return err
	}
	time.Sleep(1500 * time.Millisecond)

	// Open the n connections first, so the calls really start together.
	var wg sync.WaitGroup
	start := make(chan struct{})
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	for range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var err error
			if *mode == "proxy" {
				err = a.proxyGet(action, user)
			} else {
				err = a.invoke(action, user)
			}
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			ok.Add(1)
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	el := time.Since(t0)
	fmt.Printf("storm: %d concurrent %s calls on an expired token in %v: %d ok, %d failed; token endpoint saw %d refresh request(s) (expect 1)\n",
		*n, *mode, el.Round(time.Millisecond), ok.Load(), failed.Load(), p.refreshes.Load())
	if e := firstErr.Load(); e != nil {
		fmt.Printf("storm: first failure: %v\n", e)
	}
	fmt.Printf("STORM_REFRESHES=%d\nSTORM_OK=%d\nSTORM_FAILED=%d\n", p.refreshes.Load(), ok.Load(), failed.Load())
	_, _ = a.do("DELETE", "/v1/actions/"+action, nil, nil)
	return nil
}

func (a *api) proxyGet(action, user string) error {
	req, _ := http.NewRequest("GET", a.base+"/v1/proxy/"+action+"/items/42", nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("X-Actiongate-User", user)
	resp, err := a.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("proxy: %d %s", resp.StatusCode, b)
	}
	return nil
}

// insert adds connection rows scale-<from>…scale-<to-1> for an oauth action,
// with valid sealed access tokens (so calls for those users succeed), straight
// into the SQLite database through the store.
func insert(args []string) error {
	fs := flag.NewFlagSet("insert", flag.ExitOnError)
	db := fs.String("db", "", "SQLite file (data-dir/actiongate.db)")
	action := fs.String("action", "", "oauth action id")
	from := fs.Int("from", 0, "first index")
	to := fs.Int("to", 1000, "last index + 1")
	_ = fs.Parse(args)
	key, err := secrets.ParseKey(os.Getenv("ACTIONGATE_MASTER_KEY"))
	if err != nil {
		return fmt.Errorf("ACTIONGATE_MASTER_KEY: %w", err)
	}
	keys := secrets.NewKeyring(key)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now().UTC()
	t0 := time.Now()
	for i := *from; i < *to; i++ {
		user := "scale-" + strconv.Itoa(i)
		// The gateway's binding of a sealed token to its connection
		// (gateway.connAAD + ":access"); calls for these users fail if it drifts.
		at, err := keys.SealString(secrets.New("scale-token-"+strconv.Itoa(i)), "conn:"+*action+":"+user+":access")
		if err != nil {
			return err
		}
		if err := st.PutConnection(ctx, store.Connection{ActionID: *action, User: user, AccessToken: at, Scope: "read",
			ExpiresAt: now.Add(24 * time.Hour), Status: store.StatusConnected, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if done := i - *from + 1; done%100000 == 0 {
			fmt.Fprintf(os.Stderr, "insert: %d rows (%.0f rows/s)\n", done, float64(done)/time.Since(t0).Seconds())
		}
	}
	fmt.Fprintf(os.Stderr, "insert: %d rows in %v\n", *to-*from, time.Since(t0).Round(time.Millisecond))
	return nil
}

// latency makes n sequential invokes: all for -user, or each for a distinct
// user scale-<i> drawn from [0, users) (each then a credential-cache miss).
func latency(args []string) error {
	fs := flag.NewFlagSet("latency", flag.ExitOnError)
	gw := fs.String("gw", "http://127.0.0.1:9105", "gateway URL")
	action := fs.String("action", "", "action id")
	user := fs.String("user", "", "one user for every call (default: distinct scale-<i> users)")
	users := fs.Int("users", 1000, "draw distinct users from scale-0 … scale-<users-1>")
	n := fs.Int("n", 1000, "calls")
	label := fs.String("label", "latency", "label for the output")
	_ = fs.Parse(args)
	a := newAPI(*gw)
	var picks []int
	if *user == "" {
		if *n > *users {
			*n = *users
		}
		picks = rand.Perm(*users)[:*n]
	}
	lat := make([]time.Duration, 0, *n)
	for i := range *n {
		u := *user
		if u == "" {
			u = "scale-" + strconv.Itoa(picks[i])
		}
		t := time.Now()
		if err := a.invoke(*action, u); err != nil {
			return err
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	fmt.Printf("%s: %d calls p50 %s p99 %s\n", *label, len(lat), ms(pct(lat, 50)), ms(pct(lat, 99)))
	return nil
}

func pct(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) + "ms" }
