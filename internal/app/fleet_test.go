package app

// A fleet: two gateways on one PostgreSQL database behind a load balancer,
// against the fosite authorization server with short-lived, rotating tokens.
//
// The replicas are separate OS processes running the real binary (built once
// per test binary, with -race when the tests run with -race), so they share
// nothing but the database, the master key and the public URL — no memory, no
// in-process lock, no cache. Without a go command to build the binary (a test
// binary run on its own), or with ACTIONGATE_TEST_FLEET_INPROCESS=1, they are
// two separate Run calls in this process instead.
//
// Timing. A token's lifetime cannot be faked across processes, so the test
// waits in real time, but only as long as the gateway's own rule requires: it
// reads the stored expiry and sleeps until the moment the gateway must refresh
// (less than min(60s, lifetime/2) left). Exactly one refresh is then the only
// correct outcome of the burst of calls if every call has read the connection
// before the refreshed token itself is half way through its life. The test
// measures that instead of assuming it: on a machine too slow for the
// shortest lifetime a second refresh would be legitimate, so the attempt is
// skipped as inconclusive and repeated with about twice the lifetime. Invariants
// that hold whatever the timing (every call succeeds, no refresh token is
// ever presented twice) are asserted on every attempt.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/actiongate/actiongate/internal/oauth/oauthtest"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/store"
	"github.com/actiongate/actiongate/internal/store/postgres"
)

// fleetDBEnv names the variable holding the URL of the PostgreSQL server the
// fleet test uses, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const fleetDBEnv = "ACTIONGATE_TEST_DATABASE_URL"

// fleetInProcessEnv, set to 1, runs the replicas as Run calls in this process.
const fleetInProcessEnv = "ACTIONGATE_TEST_FLEET_INPROCESS"

// raceEnabled is set by fleet_race_test.go when the tests run with -race.
var raceEnabled bool

func TestMain(m *testing.M) {
	code := m.Run()
	if fleetBin.dir != "" {
		os.RemoveAll(fleetBin.dir)
	}
	os.Exit(code)
}

// TestFleetRefreshesOnceAcrossReplicas: a sign-in started on one replica
// completes on the other, and 50 concurrent calls spread over both replicas
// after the token went stale make exactly one refresh request, with no
// refresh token reuse, and all succeed.
func TestFleetRefreshesOnceAcrossReplicas(t *testing.T) {
	base := os.Getenv(fleetDBEnv)
	if base == "" {
		t.Skip(fleetDBEnv + " not set: the fleet test needs PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	launch := fleetLauncher(t)
	// fosite's access token lifetimes: it rounds a token's expiry to the
	// second and answers expires_in in whole seconds rounded down, so the
	// gateway sees a lifetime of 2s or 3s for the first one.
	for _, life := range []int{3, 5, 9, 17} {
		var conclusive bool
		ok := t.Run(fmt.Sprintf("token_lifespan=%ds", life), func(t *testing.T) {
			conclusive = fleetScenario(t, base, launch, time.Duration(life)*time.Second)
		})
		if !ok || conclusive {
			return
		}
	}
	t.Fatal("every attempt was inconclusive: this machine is too slow to show a single refresh even with 17-second tokens")
}

// fleetUser is the end user who signs in.
const fleetUser = "alice"

// fleetScenario runs one attempt with fosite's tokens living life. It returns
// false, after skipping t, when the timing did not allow a conclusion.
func fleetScenario(t *testing.T, base string, launch launcher, life time.Duration) (conclusive bool) {
	t0 := time.Now()
	dbURL := fleetDatabase(t, base)
	lb := newBalancer(t)
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	env := func(name string) map[string]string {
		return map[string]string{
			"ACTIONGATE_DATABASE_URL":           withParams(t, dbURL, "application_name", "actiongate_fleet_"+name),
			"ACTIONGATE_PUBLIC_URL":             lb.url,
			"ACTIONGATE_MASTER_KEY":             key.Encode(),
			"ACTIONGATE_ADMIN_TOKEN":            testToken,
			"ACTIONGATE_ALLOW_PRIVATE_NETWORKS": "1",
			"ACTIONGATE_USER_RATE":              "0", // 50 calls of one user at once
			"ACTIONGATE_LOG_FORMAT":             "json",
			"ACTIONGATE_LOG_LEVEL":              "debug",
		}
	}
	// Both at once, as a fleet rolls out: the migrations must not race.
	// (Each replica's background sweeper first runs 54s or more after it
	// started: launched bounds that.)
	launched := time.Now()
	readyA, readyB := launch(t, "a", env("a")), launch(t, "b", env("b"))
	a, b := readyA(), readyB()
	replicas := []*replica{a, b}
	started := time.Now()
	lb.start(a, b)
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range replicas {
				t.Logf("---- replica %s log ----\n%s", r.name, r.logs())
			}
		}
	})
	t.Logf("replicas up in %v (%s: %s, %s: %s, load balancer %s)", started.Sub(t0).Round(time.Millisecond), a.name, a.url, b.name, b.url, lb.url)

	as := oauthtest.NewServer(t, oauthtest.Options{
		EnforcePKCE:         true,
		AccessTokenLifespan: life,
		Clients: []oauthtest.Client{{
			ID: "fleet-client", Secret: "fleet-client-secret-0123456789", AuthMethod: oauthtest.AuthMethodPost,
			RedirectURIs: []string{lb.url + "/oauth/callback"}, Scopes: []string{"read"},
		}},
	})
	as.SetUser(fleetUser)
	tokens := newTokenRecorder(t, as.URL())
	api := newAPIClient(t)

	// The action is created on A and used on B: it lives in the database.
	st, act, err := api.call(a.url, "POST", "/v1/actions", map[string]any{
		"name": "fosite", "schema": meSpec(as.URL()),
		"auth": map[string]any{
			"type": "oauth", "client_id": "fleet-client", "client_secret": "fleet-client-secret-0123456789",
			"authorization_url": as.AuthorizationURL(), "token_url": tokens.url + "/token",
			"scope": "read", "token_exchange_method": "post", "pkce": true,
		},
	})
	if err != nil || st != 201 {
		t.Fatalf("create action on %s: %d %v %v", a.name, st, act, err)
	}
	id, _ := act["id"].(string)
	if act["callback_url"] != lb.url+"/oauth/callback" {
		t.Fatalf("callback_url %v, want the load balancer's %s", act["callback_url"], lb.url+"/oauth/callback")
	}

	// B tells the assistant to sign the user in; the link is the fleet's.
	st, res, err := api.invoke(b.url, id)
	if err != nil || st != 403 || errCode(res) != "sign_in_required" {
		t.Fatalf("invoke on %s before sign-in: %d %v %v", b.name, st, res, err)
	}
	e, _ := res["error"].(map[string]any)
	link, _ := e["sign_in_url"].(string)
	if !strings.HasPrefix(link, lb.url+"/oauth/start?") {
		t.Fatalf("sign_in_url %q is not on the load balancer %s", link, lb.url)
	}

	// The browser: /oauth/start lands on B (which stores the state and sets the
	// binding cookie), the provider redirects to /oauth/callback, which lands on
	// A (which takes the state from the database and checks the cookie).
	br := newBrowser(t)
	st, loc, body := br.get(link)
	if st != 302 || !strings.HasPrefix(loc, as.AuthorizationURL()) {
		t.Fatalf("sign-in link: %d %q %s", st, loc, body)
	}
	cb, err := as.Authorize(t.Context(), loc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cb.String(), lb.url+"/oauth/callback?") {
		t.Fatalf("provider redirected to %s", cb)
	}
	st, _, body = br.get(cb.String())
	if st != 200 || !strings.Contains(body, "Signed in to") {
		t.Fatalf("callback: %d %s", st, body)
	}
	if got, want := lb.servedBy(), map[string]string{"/oauth/start": b.name, "/oauth/callback": a.name}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("load balancer sent %v, want %v", got, want)
	}
	if logCount(b, "sign-in started") != 1 || logCount(a, "sign-in completed") != 1 ||
		logCount(a, "sign-in started") != 0 || logCount(b, "sign-in completed") != 0 {
		t.Fatalf("sign-in started on %s: %d, on %s: %d; completed on %s: %d, on %s: %d; want started on %s and completed on %s",
			a.name, logCount(a, "sign-in started"), b.name, logCount(b, "sign-in started"),
			a.name, logCount(a, "sign-in completed"), b.name, logCount(b, "sign-in completed"), b.name, a.name)
	}
	signedIn := time.Now()

	// The stored connection says when the gateway must refresh.
	db := openFleetStore(t, dbURL)
	conn := storedConnection(t, db, id)
	due := refreshDue(conn)
	if l := conn.ExpiresAt.Sub(conn.UpdatedAt); l <= 0 || l > life {
		t.Fatalf("stored token lifetime %v, want at most fosite's %v", l, life)
	}

	// B can use the token A stored (same master key), without a refresh.
	st, res, err = api.invoke(b.url, id)
	if err != nil || st != 200 || !wantSub(res) {
		t.Fatalf("invoke on %s after sign-in: %d %v %v", b.name, st, res, err)
	}
	if n := as.RefreshRequests(); n != 0 {
		if time.Now().Before(due) && time.Since(launched) < 50*time.Second {
			t.Fatalf("%d refresh requests for a fresh token", n)
		}
		t.Skipf("inconclusive: a refresh before the burst, legitimate since the first call after sign-in ended %v after it, %v after the replicas started",
			time.Since(signedIn), time.Since(launched))
		return false
	}

	// Let the token go stale by the gateway's rule, then the burst: 50 calls
	// at once, alternating between the replicas.
	time.Sleep(time.Until(due) + 10*time.Millisecond)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	gate := make(chan struct{})
	for i := range n {
		r := replicas[i%2]
		wg.Go(func() {
			<-gate
			st, res, err := api.invoke(r.url, id)
			switch {
			case err != nil:
				errs <- fmt.Errorf("call %d on %s: %v", i, r.name, err)
			case st != 200 || !wantSub(res):
				errs <- fmt.Errorf("call %d on %s: %d %v", i, r.name, st, res)
			}
		})
	}
	burstStart := time.Now()
	close(gate)
	wg.Wait()
	burstEnd := time.Now()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	refreshes, reuses := as.RefreshRequests(), as.RefreshTokenReuses()
	if reuses != 0 {
		t.Errorf("fosite saw %d refresh token reuses", reuses)
	}
	if refreshes == 0 {
		t.Errorf("no refresh request reached the provider for a stale token")
	}
	if t.Failed() {
		return true
	}

	// Every refresh is sent after burstStart, so the first refreshed token
	// needs refreshing no sooner than half its expires_in after it.
	window := tokens.minExpiresIn() / 2
	took := burstEnd.Sub(burstStart)
	t.Logf("signed in %v after start; waited %v for the token to go stale; %d calls took %v (refreshed token stays fresh %v); %d refresh request(s)",
		signedIn.Sub(t0).Round(time.Millisecond), burstStart.Sub(signedIn).Round(time.Millisecond), n, took.Round(time.Millisecond), window.Round(time.Millisecond), refreshes)
	if refreshes != 1 {
		switch {
		case took >= window:
			t.Skipf("inconclusive: the calls took %v, longer than the refreshed token stays fresh (%v), so %d refreshes can be right", took, window, refreshes)
			return false
		case burstEnd.Sub(launched) >= 50*time.Second:
			t.Skipf("inconclusive: the test took %v, long enough for a background sweep", burstEnd.Sub(launched))
			return false
		}
		t.Fatalf("%d refresh requests reached the provider, want exactly 1", refreshes)
	}
	if refreshed := logCount(a, "token refreshed") + logCount(b, "token refreshed"); refreshed != 1 {
		t.Fatalf("%d 'token refreshed' logs across the replicas, want 1", refreshed)
	}
	if got := as.TokenRequests(); got != 2 {
		t.Fatalf("%d token requests, want the code exchange and one refresh", got)
	}
	// No call sent a rotated-out token (which would have been a 401 and a
	// retry): one API request per call.
	if got := as.APIRequests(); got != n+1 {
		t.Fatalf("%d API requests, want %d", got, n+1)
	}
	for _, r := range replicas {
		if logCount(r, "token refreshed") == 1 {
			t.Logf("replica %s made the refresh; the other replica's calls used its token", r.name)
		}
	}
	return true
}

// meSpec is an OpenAPI document for the fosite server's /api/me.
func meSpec(server string) string {
	return `openapi: 3.1.0
info: {title: Me, version: "1"}
servers: [{url: "` + server + `/api"}]
paths:
  /me:
    get:
      operationId: me
      responses: {"200": {description: the signed-in user}}
`
}

func wantSub(res map[string]any) bool {
	body, _ := res["body"].(map[string]any)
	return res["status"] == float64(200) && body["sub"] == fleetUser
}

// refreshDue is when the gateway refreshes conn's access token: once less than
// min(60s, lifetime/2) is left (gateway.needsRefresh).
func refreshDue(conn store.Connection) time.Time {
	margin := 60 * time.Second
	if l := conn.ExpiresAt.Sub(conn.UpdatedAt); l > 0 && l/2 < margin {
		margin = l / 2
	}
	return conn.ExpiresAt.Add(-margin)
}

// ---------------------------------------------------------------------------
// The database

// fleetDatabase creates an empty schema for the test on the server at base and
// returns a URL whose connections work in it. The schema is dropped when the
// test ends, after everything started later has stopped.
func fleetDatabase(t *testing.T, base string) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	schema := "fleet_" + hex.EncodeToString(b)
	run := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return fmt.Errorf("connect to %s: %w", fleetDBEnv, err)
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := run(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := run(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withParams(t, base, "options", "-c search_path="+schema)
}

// withParams adds settings to the connection string u, in URL or keyword/value
// form like u; an options setting is added to those u already has.
func withParams(t *testing.T, u string, kv ...string) string {
	t.Helper()
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatalf("%s: %v", fleetDBEnv, err)
		}
		q := p.Query()
		for i := 0; i < len(kv); i += 2 {
			v := kv[i+1]
			if old := q.Get(kv[i]); kv[i] == "options" && old != "" {
				v = old + " " + v
			}
			q.Set(kv[i], v)
		}
		// libpq's (and pgx's) URI syntax has no "+" for a space.
		p.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		return p.String()
	}
	for i := 0; i < len(kv); i += 2 {
		u += " " + kv[i] + "='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(kv[i+1]) + "'"
	}
	return u
}

// openFleetStore opens the test's own view of the replicas' database.
func openFleetStore(t *testing.T, dbURL string) *postgres.Store {
	t.Helper()
	db, err := postgres.Open(t.Context(), withParams(t, dbURL, "application_name", "actiongate_fleet_test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func storedConnection(t *testing.T, db store.Store, actionID string) store.Connection {
	t.Helper()
	c, err := db.GetConnection(t.Context(), actionID, fleetUser)
	if err != nil {
		t.Fatalf("stored connection: %v", err)
	}
	if c.ExpiresAt.IsZero() || c.Status != store.StatusConnected {
		t.Fatalf("stored connection: status %q, expires %v", c.Status, c.ExpiresAt)
	}
	return c
}

// ---------------------------------------------------------------------------
// Replicas

// replica is one running gateway.
type replica struct {
	name string
	url  string
	logs func() string
}

func logCount(r *replica, msg string) int {
	return strings.Count(r.logs(), `"msg":"`+msg+`"`)
}

// launcher starts a replica named name with the environment env (and a data
// folder of its own), to be stopped when the test ends, and returns a function
// that waits until it is ready. Both run on the test's goroutine.
type launcher func(t *testing.T, name string, env map[string]string) (ready func() *replica)

// fleetLauncher runs replicas as processes of the built binary, or in this
// process when there is no go command to build it with.
func fleetLauncher(t *testing.T) launcher {
	if os.Getenv(fleetInProcessEnv) == "1" {
		t.Log("replicas run in this process (" + fleetInProcessEnv + "=1)")
		return inProcess
	}
	bin, err := fleetBinary()
	if errors.Is(err, exec.ErrNotFound) {
		t.Logf("replicas run in this process: no go command to build the binary with (%v)", err)
		return inProcess
	}
	if err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T, name string, env map[string]string) func() *replica {
		return startProcess(t, bin, name, env)
	}
}

// fleetBin is the binary built once per test binary run; TestMain removes it.
var fleetBin struct {
	once     sync.Once
	dir, bin string
	err      error
}

// fleetBinary builds ./cmd/actiongate (with -race when this test binary has
// it) the first time it is called.
func fleetBinary() (string, error) {
	fleetBin.once.Do(func() {
		goCmd, err := exec.LookPath("go") // go test puts its own GOROOT/bin first in PATH
		if err != nil {
			fleetBin.err = err
			return
		}
		if fleetBin.dir, err = os.MkdirTemp("", "actiongate-fleet-"); err != nil {
			fleetBin.err = err
			return
		}
		fleetBin.bin = filepath.Join(fleetBin.dir, "actiongate")
		args := []string{"build", "-buildvcs=false", "-o", fleetBin.bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command(goCmd, append(args, "github.com/actiongate/actiongate/cmd/actiongate")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			fleetBin.err = fmt.Errorf("%s: %v\n%s", cmd, err, out)
		}
	})
	return fleetBin.bin, fleetBin.err
}

// inProcess runs the replica as a Run call of its own (app_test.go's start),
// which returns once it listens.
func inProcess(t *testing.T, name string, env map[string]string) func() *replica {
	g := start(t, t.TempDir(), env)
	return func() *replica { return &replica{name: name, url: g.url, logs: g.stderr.String} }
}

// startProcess runs `bin serve` with env and its output in a log file, and
// stops it (SIGTERM, then SIGKILL) when the test ends; the function it returns
// waits until /readyz answers 200.
func startProcess(t *testing.T, bin, name string, env map[string]string) func() *replica {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ACTIONGATE_") && !strings.HasPrefix(kv, "GORACE=") {
			environ = append(environ, kv)
		}
	}
	// A -race binary otherwise sleeps a second at exit; its reports still
	// land in the log, and fail the test.
	environ = append(environ, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	env["ACTIONGATE_DATA_DIR"] = filepath.Join(dir, "data")
	env["ACTIONGATE_ADDR"] = "127.0.0.1:0"
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	listening := make(chan string, 1)
	cmd := exec.Command(bin, "serve")
	cmd.Env = environ
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = &lineWatcher{w: logFile, found: listening}
	cmd.WaitDelay = 5 * time.Second
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	r := &replica{name: name, logs: func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}}
	t.Cleanup(func() {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			_ = cmd.Process.Kill()
		}
		var err error
		select {
		case err = <-exited:
		case <-time.After(25 * time.Second):
			_ = cmd.Process.Kill()
			err = fmt.Errorf("did not stop within 25s of SIGTERM: %v", <-exited)
		}
		logFile.Close()
		logs := r.logs()
		if err != nil || strings.Contains(logs, "WARNING: DATA RACE") {
			t.Errorf("replica %s exited: %v\n%s", name, err, logs)
		}
	})

	return func() *replica {
		t.Helper()
		deadline := time.After(60 * time.Second)
		select {
		case addr := <-listening:
			r.url = "http://" + addr
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("replica %s exited at start: %v\n%s", name, err, r.logs())
		case <-deadline:
			t.Fatalf("replica %s did not start listening within 60s\n%s", name, r.logs())
		}
		for {
			resp, err := http.Get(r.url + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return r
				}
			}
			select {
			case err := <-exited:
				exited <- err
				t.Fatalf("replica %s exited at start: %v\n%s", name, err, r.logs())
			case <-deadline:
				t.Fatalf("replica %s not ready within 60s\n%s", name, r.logs())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// lineWatcher copies a replica's log to w and sends the address of its
// "actiongate listening" line to found.
type lineWatcher struct {
	w     io.Writer
	found chan<- string
	buf   []byte
	done  bool
}

func (l *lineWatcher) Write(p []byte) (int, error) {
	if !l.done {
		l.buf = append(l.buf, p...)
		for {
			line, rest, ok := bytes.Cut(l.buf, []byte("\n"))
			if !ok {
				break
			}
			l.buf = rest
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "actiongate listening" && rec.Addr != "" {
				l.found <- rec.Addr
				l.done, l.buf = true, nil
				break
			}
		}
	}
	return l.w.Write(p)
}

// ---------------------------------------------------------------------------
// The load balancer

// balancer is the fleet's front door, whose URL is the public URL: sign-in
// starts go to B, callbacks to A, everything else round-robin.
type balancer struct {
	srv  *httptest.Server
	url  string
	a, b *replica
	pa   *httputil.ReverseProxy
	pb   *httputil.ReverseProxy
	next atomic.Uint64

	mu     sync.Mutex
	served map[string]string // sign-in path → replica
}

// newBalancer reserves the balancer's address; start starts it.
func newBalancer(t *testing.T) *balancer {
	lb := &balancer{srv: httptest.NewUnstartedServer(nil), served: map[string]string{}}
	lb.url = "http://" + lb.srv.Listener.Addr().String()
	t.Cleanup(lb.srv.Close)
	return lb
}

func (lb *balancer) start(a, b *replica) {
	lb.a, lb.b = a, b
	lb.pa, lb.pb = proxyTo(a.url), proxyTo(b.url)
	lb.srv.Config.Handler = lb
	lb.srv.Start()
}

func proxyTo(target string) *httputil.ReverseProxy {
	u, _ := url.Parse(target)
	return &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.SetXForwarded()
		pr.Out.Host = pr.In.Host
	}}
}

func (lb *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	toA := lb.next.Add(1)%2 == 0
	switch r.URL.Path {
	case "/oauth/start":
		toA = false
	case "/oauth/callback":
		toA = true
	}
	rep, p := lb.b, lb.pb
	if toA {
		rep, p = lb.a, lb.pa
	}
	lb.mu.Lock()
	if strings.HasPrefix(r.URL.Path, "/oauth/") {
		lb.served[r.URL.Path] = rep.name
	}
	lb.mu.Unlock()
	p.ServeHTTP(w, r)
}

func (lb *balancer) servedBy() map[string]string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	out := map[string]string{}
	for k, v := range lb.served {
		out[k] = v
	}
	return out
}

// ---------------------------------------------------------------------------
// The token endpoint's recorder

// tokenRecorder stands in front of fosite's token endpoint and notes the
// expires_in of every token it hands out: fosite rounds expiries to the
// second, so a token's lifetime is known only from its answer.
type tokenRecorder struct {
	url       string
	mu        sync.Mutex
	expiresIn []time.Duration
}

func newTokenRecorder(t *testing.T, target string) *tokenRecorder {
	u, _ := url.Parse(target)
	rec := &tokenRecorder{}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode != http.StatusOK {
				return nil
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			var tok struct {
				ExpiresIn int64 `json:"expires_in"`
			}
			if err := json.Unmarshal(b, &tok); err != nil || tok.ExpiresIn <= 0 {
				return fmt.Errorf("token answer without expires_in: %s", b)
			}
			rec.mu.Lock()
			rec.expiresIn = append(rec.expiresIn, time.Duration(tok.ExpiresIn)*time.Second)
			rec.mu.Unlock()
			resp.Body = io.NopCloser(bytes.NewReader(b))
			return nil
		},
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	rec.url = srv.URL
	return rec
}

// minExpiresIn is the shortest lifetime of the tokens handed out so far.
func (r *tokenRecorder) minExpiresIn() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m time.Duration
	for i, d := range r.expiresIn {
		if i == 0 || d < m {
			m = d
		}
	}
	return m
}

// ---------------------------------------------------------------------------
// Clients

// apiClient calls replicas' API with the admin token; safe for concurrent use.
type apiClient struct{ c *http.Client }

func newAPIClient(t *testing.T) *apiClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &apiClient{c: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

func (c *apiClient) call(base, method, path string, body any) (int, map[string]any, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest(method, base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("not JSON: %s", raw)
	}
	return resp.StatusCode, out, nil
}

func (c *apiClient) invoke(base, actionID string) (int, map[string]any, error) {
	return c.call(base, "POST", "/v1/actions/"+actionID+"/invoke", map[string]any{"user": fleetUser, "operation": "me"})
}

// browser is the end user's browser: cookies kept, redirects not followed.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, c: &http.Client{Jar: jar, Transport: tr, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get fetches u and returns the status, Location and body.
func (b *browser) get(u string) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}
