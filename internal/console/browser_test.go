package console_test

// Browser tests: Debian's Chromium, headless, driven by chromedp. They skip
// when no Chromium is installed. No sleeps: every step waits for what it
// needs to see.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/actiongate/actiongate/internal/oauth/oauthtest"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "rewrite docs/console.png (the README's picture) from TestBrowserOAuth")

// chromium finds the browser: $ACTIONGATE_CHROMIUM, else the usual names.
func chromium() string {
	if p := os.Getenv("ACTIONGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

var (
	shotsOnce sync.Once
	shotsDir  string
	shotsErr  error
)

// page is a headless Chromium tab on the harness's server.
type tab struct {
	t        *testing.T
	h        *harness
	ctx      context.Context
	dir      string
	n        int
	mu       sync.Mutex
	problems []string // uncaught exceptions and console errors (CSP violations included)
}

func newTab(t *testing.T, h *harness) *tab {
	t.Helper()
	path := chromium()
	if path == "" {
		t.Skip("browser test skipped: no Chromium found (install Debian's package: apt-get install -y chromium; or set ACTIONGATE_CHROMIUM)")
	}
	shotsOnce.Do(func() { shotsDir, shotsErr = os.MkdirTemp("", "actiongate-console-screenshots-") })
	if shotsErr != nil {
		t.Fatal(shotsErr)
	}
	t.Logf("screenshots of each page: %s", shotsDir)

	// chromedp's ExecAllocator gives each browser a fresh --user-data-dir
	// and removes it when the browser has exited.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	b := &tab{t: t, h: h, dir: shotsDir}
	b.watch(ctx)
	// Clipboard access, to check what the copy buttons copy.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: h.srv.URL,
		}); err != nil {
			t.Fatalf("clipboard permission: %v", err)
		}
	}
	tctx, tcancel := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(tcancel)
	b.ctx = tctx
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			t.Errorf("browser console: %s", p)
		}
	})
	return b
}

// watch records the console problems of a tab.
func (b *tab) watch(ctx context.Context) {
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			// A 4xx answer to a form is expected (invalid input); every
			// other error is a defect: an exception, a CSP violation.
			if m.IsException() || m.Type == chromedp.ConsoleError && m.Source != "network" {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	}()
}

// until waits for a JavaScript condition to hold.
func until(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](js)(ctx, t)
		return err
	})
}

// stepTimeout bounds one step, so a stuck step fails fast with a screenshot.
const stepTimeout = 30 * time.Second

// run runs one action with the step timeout.
func run[T any](b *tab, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if _, err := run(b, chromedp.Steps(steps...)); err != nil {
		b.fail(err)
	}
}

func (b *tab) fail(err error) {
	b.t.Helper()
	if png, serr := run(b, chromedp.FullScreenshot(100)); serr == nil {
		p := filepath.Join(b.dir, b.t.Name()+"-failure.png")
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, png, 0o644)
		b.t.Logf("screenshot at the failure: %s", p)
	}
	b.t.Fatal(err)
}

func (b *tab) nav(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.h.srv.URL + path))
}

func eval[T any](b *tab, js string) T {
	b.t.Helper()
	v, err := run(b, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail(fmt.Errorf("%s: %w", js, err))
	}
	return v
}

func (b *tab) text(id string) string {
	b.t.Helper()
	v, err := run(b, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		b.fail(fmt.Errorf("text of #%s: %w", id, err))
	}
	return v
}

func (b *tab) value(id string) string {
	b.t.Helper()
	v, err := run(b, chromedp.Value(chromedp.ID(id)))
	if err != nil {
		b.fail(fmt.Errorf("value of #%s: %w", id, err))
	}
	return v
}

func (b *tab) html() string {
	b.t.Helper()
	return eval[string](b, `document.documentElement.outerHTML`)
}

// shot saves a full-page PNG and returns its path.
func (b *tab) shot(name string) string {
	b.t.Helper()
	png, err := run(b, chromedp.FullScreenshot(100))
	if err != nil {
		b.fail(err)
	}
	b.n++
	p := filepath.Join(b.dir, fmt.Sprintf("%s-%02d-%s.png", b.t.Name(), b.n, name))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// audit checks the page's accessibility basics: every control and link has
// a name, references resolve, ids are unique, there is one h1 and a lang.
func (b *tab) audit(page string) {
	b.t.Helper()
	bad := eval[[]string](b, `(() => {
  const bad = [];
  const text = (id) => (document.getElementById(id) || {}).textContent || '';
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href]')) {
    let name = el.labels && el.labels.length ? Array.from(el.labels).map(l => l.textContent).join(' ') : '';
    name = name || el.getAttribute('aria-label') || '';
    const lb = el.getAttribute('aria-labelledby');
    if (!name && lb) name = lb.split(/\s+/).map(text).join(' ');
    if (!name && (el.tagName === 'BUTTON' || el.tagName === 'A')) name = el.textContent;
    if (!name.trim()) bad.push('no accessible name: ' + el.outerHTML.slice(0, 120));
  }
  const ids = new Set();
  for (const el of document.querySelectorAll('[id]')) {
    if (ids.has(el.id)) bad.push('duplicate id ' + el.id);
    ids.add(el.id);
  }
  for (const el of document.querySelectorAll('[aria-describedby], [aria-labelledby], label[for]')) {
    const refs = ((el.getAttribute('aria-describedby') || '') + ' ' + (el.getAttribute('aria-labelledby') || '') + ' ' + (el.getAttribute('for') || '')).split(/\s+/).filter(Boolean);
    for (const id of refs) if (!document.getElementById(id)) bad.push('reference to missing #' + id);
  }
  if (document.querySelectorAll('h1').length !== 1) bad.push('h1 count ' + document.querySelectorAll('h1').length);
  if (!document.documentElement.lang) bad.push('no lang');
  return bad;
})()`)
	for _, p := range bad {
		b.t.Errorf("%s: %s", page, p)
	}
}

// phone checks a page at a phone's width: nothing wider than the screen
// except inside a scrolling table, and saves a screenshot.
func (b *tab) phone(path, waitID, name string) {
	b.t.Helper()
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(b.h.srv.URL+path), chromedp.WaitVisible(chromedp.ID(waitID)))
	if w := eval[int](b, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		b.t.Errorf("%s is %dpx wider than a phone screen", path, w)
	}
	b.shot("phone-" + name)
	b.do(chromedp.EmulateViewport(1280, 800))
}

// waitTab attaches to the tab a click opens; closeTab closes it and brings
// the test's tab back to the front (a background tab may stop painting,
// and a screenshot of it then never comes).
func (b *tab) waitTab(ch <-chan target.ID) (ctx context.Context, closeTab func()) {
	b.t.Helper()
	select {
	case id := <-ch:
		ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(id))
		b.t.Cleanup(cancel)
		return ctx, func() {
			cancel()
			b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := cdp.Call(ctx, t, cdppage.BringToFront, cdp.Empty{})
				return err
			}))
		}
	case <-time.After(stepTimeout):
		b.fail(fmt.Errorf("no new tab opened"))
	}
	return nil, nil
}

const clientSecret = "fosite-client-secret-LEAKCHECK"

func meSpec(server string) string {
	return `openapi: 3.1.0
info: {title: Me, version: "1"}
servers: [{url: "` + server + `/api"}]
paths:
  /me:
    get:
      operationId: me
      summary: Who is signed in
      responses: {"200": {description: the signed-in user}}
`
}

// TestBrowserOAuth: an OAuth action made through the Authentication dialog
// against a real authorization server (fosite), the callback URL copied,
// the test console's "Sign in to {domain}" completed in a new tab, the
// result, the connection listed and revoked.
func TestBrowserOAuth(t *testing.T) {
	h := newHarness(t)
	b := newTab(t, h)
	callback := h.srv.URL + "/oauth/callback"
	as := oauthtest.NewServer(t, oauthtest.Options{EnforcePKCE: true, Clients: []oauthtest.Client{{
		ID: "gateway-client", Secret: clientSecret, AuthMethod: oauthtest.AuthMethodPost,
		RedirectURIs: []string{callback}, Scopes: []string{"read", "write"},
	}}})
	as.SetUser("alice")

	// Sign in, with the keyboard.
	b.nav("/ui/")
	b.do(chromedp.WaitVisible(chromedp.ID("token")))
	b.audit("sign-in")
	b.shot("sign-in")
	b.do(chromedp.SendKeys(chromedp.ID("token"), adminToken+kb.Enter), chromedp.WaitVisible(chromedp.ID("new-action")))
	b.audit("actions")
	b.shot("actions-empty")

	// New action: name, pasted document, then the Authentication dialog.
	b.do(chromedp.Click(chromedp.ID("new-action")), chromedp.WaitVisible(chromedp.ID("schema")),
		chromedp.SendKeys(chromedp.ID("name"), "Fosite"),
		chromedp.SetValue(chromedp.ID("schema"), meSpec(as.URL())),
		chromedp.Click(chromedp.ID("auth-open")), chromedp.WaitVisible(chromedp.ID("auth-title")))
	if !eval[bool](b, `document.getElementById('auth-dialog').matches(':modal')`) {
		t.Fatal("the Authentication dialog is not modal")
	}
	b.do(chromedp.Click(chromedp.ID("auth-oauth")), chromedp.WaitVisible(chromedp.ID("client_id")),
		chromedp.SendKeys(chromedp.ID("client_id"), "gateway-client"),
		chromedp.SendKeys(chromedp.ID("client_secret"), clientSecret),
		chromedp.SendKeys(chromedp.ID("authorization_url"), as.AuthorizationURL()),
		chromedp.SendKeys(chromedp.ID("token_url"), as.TokenURL()),
		chromedp.SendKeys(chromedp.ID("scope"), "read write"),
		chromedp.Click(chromedp.ID("exchange-post")),
		chromedp.SetValue(chromedp.ID("authorization_params"), "access_type=offline\nprompt=consent"),
		chromedp.Click(chromedp.CSS(".advanced summary")), chromedp.WaitVisible(chromedp.ID("revocation_url")),
		chromedp.SendKeys(chromedp.ID("revocation_url"), as.RevocationURL()))
	if !eval[bool](b, `document.getElementById('pkce').checked`) {
		t.Fatal("PKCE is not on by default")
	}
	if got := b.value("callback-url"); got != callback {
		t.Fatalf("callback URL shown: %q, want %q", got, callback)
	}
	b.do(chromedp.Click(chromedp.CSS(`button[data-copy="callback-url"]`)),
		until(`document.getElementById('callback-url-copied').textContent !== ''`))
	if got := b.text("callback-url-copied"); got != "Copied." {
		t.Fatalf("copy status %q", got)
	}
	if got := eval[string](b, `navigator.clipboard.readText()`); got != callback {
		t.Fatalf("clipboard holds %q, want the callback URL", got)
	}
	b.audit("authentication dialog")
	b.shot("authentication-dialog")
	b.do(chromedp.Click(chromedp.ID("auth-done")), chromedp.WaitNotVisible(chromedp.ID("auth-title")))
	if s := b.text("auth-summary"); s != "OAuth, client gateway-client, new client secret typed, not saved yet" {
		t.Fatalf("summary after the dialog: %q", s)
	}

	// Save: the script posts the form and follows to the saved action.
	b.do(chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("flash")))
	if f := b.text("flash"); f != "Created “Fosite”: 1 operation." {
		t.Fatalf("flash %q", f)
	}
	if got := b.value("callback-url-summary"); got != callback {
		t.Fatalf("callback URL on the action page: %q", got)
	}
	if html := b.html(); strings.Contains(html, clientSecret) {
		t.Fatal("the action page holds the client secret")
	}
	mustContain(t, b.text("auth-summary"), "client secret set")
	b.audit("action")
	b.shot("action-saved")
	id := strings.TrimPrefix(eval[string](b, `location.pathname`), "/ui/actions/")
	_, a := h.api("GET", "/v1/actions/"+id, nil)
	auth := a["auth"].(map[string]any)
	if auth["client_id"] != "gateway-client" || auth["has_client_secret"] != true || auth["pkce"] != true ||
		auth["revocation_url"] != as.RevocationURL() || auth["token_exchange_method"] != "post" ||
		fmt.Sprint(auth["authorization_params"]) != "map[access_type:offline prompt:consent]" {
		t.Fatalf("stored auth: %v", auth)
	}

	// Test console: alice is not signed in yet.
	b.do(chromedp.Click(chromedp.ID("test-link")), chromedp.WaitVisible(chromedp.ID("run")),
		chromedp.SendKeys(chromedp.ID("user"), "alice"), chromedp.Click(chromedp.ID("run")),
		chromedp.WaitVisible(chromedp.ID("signin-link")))
	if s := b.text("signin-link"); s != "Sign in to 127.0.0.1" {
		t.Fatalf("sign-in button %q", s)
	}
	req := b.text("request-text")
	mustContain(t, req, "GET "+as.URL()+"/api/me")
	mustContain(t, req, "Authorization: Bearer [redacted]")
	if !eval[bool](b, `document.activeElement.id === 'signin-link'`) {
		t.Error("focus did not move to the sign-in button")
	}
	b.audit("test console")
	b.shot("sign-in-required")

	// "Sign in to 127.0.0.1" opens a new tab: gateway → fosite (approves) →
	// the gateway's callback page.
	tabs := chromedp.WaitNewTarget(b.ctx, func(i *target.Info) bool { return i.Type == "page" })
	b.do(chromedp.Click(chromedp.ID("signin-link")))
	signin, closeSignin := b.waitTab(tabs)
	sctx, scancel := context.WithTimeout(signin, stepTimeout)
	defer scancel()
	if err := chromedp.Do(sctx, until(`document.querySelector('h1') !== null && document.querySelector('h1').textContent === 'Signed in to 127.0.0.1'`)); err != nil {
		b.fail(fmt.Errorf("the sign-in tab did not reach the callback page: %w", err))
	}
	if png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)); err == nil {
		b.n++
		_ = os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("%s-%02d-signed-in-tab.png", t.Name(), b.n)), png, 0o644)
	}
	closeSignin()

	// Back in the console: run again, now as alice.
	b.do(chromedp.Click(chromedp.ID("run-again")), chromedp.WaitVisible(chromedp.ID("response-status")))
	if s := b.text("response-status"); s != "HTTP 200" {
		t.Fatalf("status %q", s)
	}
	mustContain(t, b.text("response-text"), `"sub": "alice"`)
	b.audit("test result")
	p := b.shot("test-result")
	if *updateScreenshot {
		png, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "console.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("updated docs/console.png")
	}

	// Connections: listed, then revoked (at the provider too).
	b.nav("/ui/connections")
	b.do(chromedp.WaitVisible(chromedp.ID("user")), chromedp.SendKeys(chromedp.ID("user"), "alice"+kb.Enter),
		chromedp.WaitVisible(chromedp.ID("connections-table")))
	row := eval[string](b, `document.querySelector('#connections-table tbody tr').textContent`)
	for _, s := range []string{"Fosite", "connected", "read write"} {
		mustContain(t, row, s)
	}
	b.audit("connections")
	b.shot("connections")
	revoked := as.RevocationRequests()
	b.do(chromedp.Click(chromedp.CSS(`#connections-table button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("no-connections")))
	if f := b.text("flash"); f != "Signed alice out of “Fosite”." {
		t.Fatalf("flash %q", f)
	}
	if as.RevocationRequests() == revoked {
		t.Fatal("revoking made no revocation request to the provider")
	}
	if cs, err := h.gw.Connections(t.Context(), "alice"); err != nil || len(cs) != 0 {
		t.Fatalf("connections after revoke: %v %v", cs, err)
	}
	b.shot("connections-revoked")

	b.nav("/ui/audit")
	b.do(chromedp.WaitVisible(chromedp.ID("audit-table")))
	log := b.text("audit-table")
	for _, s := range []string{"action.created", "connection.created", "connection.revoked"} {
		mustContain(t, log, s)
	}
	b.audit("audit log")
	b.shot("audit")

	b.phone("/ui/actions/"+id+"/test", "run", "test-console")
	b.phone("/ui/actions/"+id, "save", "action")
	b.phone("/ui/audit", "audit-table", "audit")

	tokens := h.issuedTokens()
	if len(tokens) == 0 {
		t.Fatal("the provider issued no token: the secret scan would prove nothing")
	}
	h.neverShown(append(tokens, clientSecret)...)
}

// TestBrowserAPIKey: inline schema problems (the typed key survives them),
// a file upload checked on the spot, the key never shown after saving, the
// dialog's keyboard behaviour, the confirm step, invalid arguments, raw
// JSON, and a token shown once.
func TestBrowserAPIKey(t *testing.T) {
	h := newHarness(t)
	up := newUpstream(t)
	b := newTab(t, h)

	b.nav("/ui/login")
	b.do(chromedp.SendKeys(chromedp.ID("token"), adminToken+kb.Enter), chromedp.WaitVisible(chromedp.ID("new-action")),
		chromedp.Click(chromedp.ID("new-action")), chromedp.WaitVisible(chromedp.ID("schema")),
		chromedp.SendKeys(chromedp.ID("name"), "Inventory"),
		chromedp.SetValue(chromedp.ID("schema"), inventorySpec("")+"components:\n  schemas:\n    Item: {$ref: \"#/components/schemas/Missing\"}\n"),
		chromedp.Click(chromedp.ID("auth-open")), chromedp.WaitVisible(chromedp.ID("auth-title")),
		chromedp.Click(chromedp.ID("auth-api_key")), chromedp.WaitVisible(chromedp.ID("api_key")),
		chromedp.SendKeys(chromedp.ID("api_key"), apiKey),
		chromedp.Click(chromedp.ID("key-custom")), chromedp.WaitVisible(chromedp.ID("custom_header")),
		chromedp.Click(chromedp.ID("key-bearer")), chromedp.WaitNotVisible(chromedp.ID("custom_header")),
		chromedp.Click(chromedp.ID("auth-done")), chromedp.WaitNotVisible(chromedp.ID("auth-title")))
	mustContain(t, b.text("auth-summary"), "API key (Bearer), new key typed, not saved yet")

	// Save a broken document: the problems appear inline, the form keeps
	// what was typed (the key too), and the page never held the key.
	b.do(chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("schema-problem-list")))
	problems := b.text("schema-problem-list")
	mustContain(t, problems, "servers")
	mustContain(t, problems, "#/components/schemas/Missing")
	if code := eval[string](b, `document.getElementById('error-summary').dataset.code`); code != "invalid_schema" {
		t.Fatalf("error code %q", code)
	}
	if !eval[bool](b, `document.activeElement.id === 'error-summary'`) {
		t.Error("focus did not move to the error summary")
	}
	if b.value("api_key") != apiKey || b.value("name") != "Inventory" {
		t.Fatal("the typed values were lost")
	}
	if strings.Contains(b.html(), apiKey) {
		t.Fatal("the page's markup holds the key")
	}
	b.audit("schema problems")
	b.shot("schema-problems")

	// Load the fixed document from a file: it is checked on the spot.
	file := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(file, []byte(inventorySpec(up.srv.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.SetUploadFiles(chromedp.ID("schema-file"), []string{file}), chromedp.WaitVisible(chromedp.ID("check-ok")))
	mustContain(t, b.text("check-ok"), "2 operations found")
	mustContain(t, b.text("file-status"), "Loaded inventory.yaml")
	mustContain(t, b.text("operations-table"), "createItem")
	if !strings.Contains(b.value("schema"), "operationId: createItem") {
		t.Fatal("the file did not load into the editor")
	}
	b.shot("schema-checked")

	b.do(chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("flash")))
	mustContain(t, b.text("flash"), "Created “Inventory”: 2 operations.")
	mustContain(t, b.text("auth-summary"), "API key (Bearer), key set")
	if b.value("api_key") != "" || strings.Contains(b.html(), apiKey) {
		t.Fatal("the key is shown after saving")
	}
	// The dialog with the keyboard: Escape closes it and focus returns.
	b.do(chromedp.Focus(chromedp.ID("auth-open")), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.ID("api-key-state")))
	mustContain(t, b.text("api-key-state"), "A key is set.")
	b.shot("api-key-dialog")
	b.do(chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.ID("auth-title")))
	if !eval[bool](b, `document.activeElement.id === 'auth-open'`) {
		t.Error("focus did not return to the dialog's button")
	}

	// Test console: a consequential operation asks first.
	b.do(chromedp.Click(chromedp.ID("test-link")), chromedp.WaitVisible(chromedp.ID("run")),
		chromedp.SetValue(chromedp.ID("op"), "createItem"),
		// SetValue fires change: the select submits its form (the script).
		chromedp.WaitVisible(chromedp.CSS(`input[name="arg.name"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="arg.name"]`), "widget"),
		chromedp.SendKeys(chromedp.CSS(`input[name="arg.qty"]`), "3"),
		chromedp.SendKeys(chromedp.CSS(`textarea[name="arg.tags"]`), `["a", "b"]`),
		chromedp.Click(chromedp.ID("run")), chromedp.WaitVisible(chromedp.ID("confirm-run")))
	mustContain(t, b.text("confirm-box"), "POST /items changes data on 127.0.0.1")
	if up.count() != 0 {
		t.Fatal("an unconfirmed operation reached the API")
	}
	if !eval[bool](b, `document.activeElement.id === 'confirm-run'`) {
		t.Error("focus did not move to the confirm button")
	}
	b.audit("confirm")
	b.shot("confirm")
	b.do(chromedp.Click(chromedp.ID("confirm-run")), chromedp.WaitVisible(chromedp.ID("response-status")))
	if s := b.text("response-status"); s != "HTTP 201" {
		t.Fatalf("status %q", s)
	}
	req := b.text("request-text")
	mustContain(t, req, "Authorization: Bearer [redacted]")
	mustContain(t, req, `"qty": 3`)
	if got := up.last(t); got.header.Get("Authorization") != "Bearer "+apiKey || got.body != `{"name":"widget","qty":3,"tags":["a","b"]}` {
		t.Fatalf("upstream got %q %q", got.header.Get("Authorization"), got.body)
	}
	b.shot("confirmed-result")

	// Invalid arguments, then raw JSON.
	b.do(chromedp.SetValue(chromedp.ID("op"), "listItems"),
		// SetValue fires change: the select submits its form (the script).
		chromedp.WaitVisible(chromedp.CSS(`input[name="arg.limit"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="arg.limit"]`), "1000"),
		chromedp.Click(chromedp.ID("run")), chromedp.WaitVisible(chromedp.CSS(`#result [data-code="invalid_arguments"]`)))
	mustContain(t, b.text("error-summary"), "limit")
	b.shot("invalid-arguments")
	b.do(chromedp.Click(chromedp.ID("mode-json")), chromedp.WaitVisible(chromedp.ID("arguments")),
		chromedp.WaitNotVisible(chromedp.CSS(`input[name="arg.limit"]`)),
		chromedp.SetValue(chromedp.ID("arguments"), `{"kind": "nut"}`),
		chromedp.Click(chromedp.ID("run")), chromedp.WaitVisible(chromedp.ID("response-status")))
	if q := up.last(t).query; q != "kind=nut" {
		t.Fatalf("query %q", q)
	}
	mustContain(t, b.text("response-text"), `"name": "bolt"`)

	// A token: the secret once, with a working copy button; then revoked.
	b.nav("/ui/tokens")
	b.do(chromedp.WaitVisible(chromedp.ID("token-name")), chromedp.SendKeys(chromedp.ID("token-name"), "ci"),
		chromedp.Click(chromedp.ID("create-token")), chromedp.WaitVisible(chromedp.ID("new-token")))
	secret := b.value("token-secret")
	if !regexp.MustCompile(`^agt_[A-Za-z0-9_-]{43}$`).MatchString(secret) {
		t.Fatalf("secret %q", secret)
	}
	b.do(chromedp.Click(chromedp.CSS(`button[data-copy="token-secret"]`)),
		until(`document.getElementById('token-secret-copied').textContent === 'Copied.'`))
	if got := eval[string](b, `navigator.clipboard.readText()`); got != secret {
		t.Fatal("the copy button did not copy the secret")
	}
	b.audit("tokens")
	b.shot("token-created")
	b.nav("/ui/tokens")
	b.do(chromedp.WaitVisible(chromedp.ID("tokens-table")))
	if strings.Contains(b.html(), secret) {
		t.Fatal("the secret is shown again")
	}
	b.do(chromedp.Click(chromedp.CSS(`#tokens-table button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("flash")))
	mustContain(t, b.text("tokens-table"), "revoked")
	b.shot("tokens")
	b.phone("/ui/tokens", "tokens-table", "tokens")
	b.phone("/ui/actions", "actions-table", "actions")

	h.neverShown(apiKey, "LEAKCHECK")
}
