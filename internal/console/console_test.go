package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/apitoken"
	"github.com/actiongate/actiongate/internal/console"
)

// TestSignIn: only an admin token signs in; the cookie holds a random session
// id (never the token) with the right attributes; the form needs its nonce.
func TestSignIn(t *testing.T) {
	h := newHarness(t)
	c := h.client()

	p := c.get("/ui/actions")
	if p.status != http.StatusSeeOther || p.location != "/ui/login?next=%2Fui%2Factions" {
		t.Fatalf("signed out: %d %q", p.status, p.location)
	}
	if p = c.get("/ui"); p.status/100 != 3 || p.location != "/ui/" {
		t.Fatalf("/ui: %d %q", p.status, p.location)
	}

	p = c.login("wrong-token-0123456789")
	if p.status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", p.status)
	}
	mustContain(t, p.body, "That token is not valid.")

	invoke, err := h.tokens.Create(t.Context(), apitoken.CreateInput{Name: "bot", Scopes: []string{"invoke"}})
	if err != nil {
		t.Fatal(err)
	}
	p = c.login(invoke.Secret)
	if p.status != http.StatusForbidden {
		t.Fatalf("invoke token: %d", p.status)
	}
	mustContain(t, p.body, "lacks the admin scope")

	// Without the login nonce (a cross-site form post): refused.
	p = c.post("/ui/login", url.Values{"csrf": {"forged"}, "token": {adminToken}})
	if p.status != http.StatusForbidden {
		t.Fatalf("forged login: %d", p.status)
	}

	c2 := h.client()
	c2.get("/ui/login")
	p = c2.get("/ui/login?next=" + url.QueryEscape("/ui/tokens"))
	nonce := csrfHidden.FindStringSubmatch(p.body)[1]
	p = c2.post("/ui/login", url.Values{"csrf": {nonce}, "token": {adminToken}, "next": {"/ui/tokens"}})
	if p.status != http.StatusSeeOther || p.location != "/ui/tokens" {
		t.Fatalf("admin login: %d %q", p.status, p.location)
	}
	var session *http.Cookie
	for _, raw := range p.header.Values("Set-Cookie") {
		ck, err := http.ParseSetCookie(raw)
		if err != nil {
			t.Fatal(err)
		}
		if ck.Name == "ag_console" {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure || session.Path != "/ui" {
		t.Fatalf("session cookie attributes: %+v", session)
	}
	if len(session.Value) < 43 || strings.Contains(session.Value, adminToken) || strings.Contains(adminToken, session.Value) {
		t.Fatalf("session cookie value %q", session.Value)
	}
	if p = c2.get("/ui/tokens"); p.status != 200 {
		t.Fatalf("signed in: %d", p.status)
	}

	// Only paths inside the console are followed after sign-in.
	for _, next := range []string{"https://evil.example/", "//evil.example/ui/", "/ui//evil.example"} {
		c3 := h.client()
		p = c3.get("/ui/login")
		nonce = csrfHidden.FindStringSubmatch(p.body)[1]
		p = c3.post("/ui/login", url.Values{"csrf": {nonce}, "token": {adminToken}, "next": {next}})
		if p.location != "/ui/actions" {
			t.Fatalf("next %q: redirected to %q", next, p.location)
		}
	}

	// Sign out ends the session on the server: the old cookie is dead.
	p = c2.post("/ui/logout", nil)
	if p.status != http.StatusSeeOther || p.location != "/ui/login" {
		t.Fatalf("logout: %d %q", p.status, p.location)
	}
	req, _ := http.NewRequest("GET", h.srv.URL+"/ui/actions", nil)
	req.AddCookie(&http.Cookie{Name: "ag_console", Value: session.Value})
	if resp, err := http.DefaultTransport.RoundTrip(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("old cookie after logout: %v %v", resp.StatusCode, err)
	}
	h.neverShown(adminToken, invoke.Secret)
}

func TestSecureCookieWithHTTPSPublicURL(t *testing.T) {
	h := newHarness(t, harnessOptions{publicURL: "https://gateway.example"})
	p := h.client().login(adminToken)
	for _, raw := range p.header.Values("Set-Cookie") {
		ck, _ := http.ParseSetCookie(raw)
		if !ck.Secure {
			t.Fatalf("cookie %s is not Secure with an https public URL", ck.Name)
		}
	}
	if len(p.header.Values("Set-Cookie")) < 2 {
		t.Fatalf("cookies: %v", p.header.Values("Set-Cookie"))
	}
}

// TestCSRF: a state-changing request needs the session's token (field or
// header) and must not come from another site.
func TestCSRF(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	c.signIn()
	form := func() url.Values {
		return url.Values{"name": {"X"}, "schema": {inventorySpec("https://api.example.com")}, "auth": {"none"}}
	}
	for name, f := range map[string]url.Values{
		"no token":    func() url.Values { v := form(); v.Set("csrf", ""); return v }(),
		"wrong token": func() url.Values { v := form(); v.Set("csrf", "x"+c.csrf[1:]); return v }(),
	} {
		if p := c.post("/ui/actions/new", f); p.status != http.StatusForbidden {
			t.Fatalf("%s: %d", name, p.status)
		}
	}
	// Another session's token does not work either.
	other := h.client()
	other.signIn()
	v := form()
	v.Set("csrf", other.csrf)
	if p := c.post("/ui/actions/new", v); p.status != http.StatusForbidden {
		t.Fatalf("other session's token: %d", p.status)
	}
	// A cross-site request is refused even with the right token.
	req, _ := http.NewRequest("POST", h.srv.URL+"/ui/actions/new", strings.NewReader(func() string { v := form(); v.Set("csrf", c.csrf); return v.Encode() }()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if p := c.do(req); p.status != http.StatusForbidden {
		t.Fatalf("cross-site: %d", p.status)
	}
	if _, res := h.api("GET", "/v1/actions", nil); len(res["actions"].([]any)) != 0 {
		t.Fatal("a refused request created an action")
	}
	// The header form (used by the script's fetches) works, and its redirect
	// comes back as a header the script follows.
	body := form()
	req, _ = http.NewRequest("POST", h.srv.URL+"/ui/actions/new", strings.NewReader(body.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", c.csrf)
	req.Header.Set("X-Console-Fetch", "1")
	p := c.do(req)
	if p.status != http.StatusNoContent || !strings.HasPrefix(p.header.Get("X-Console-Location"), "/ui/actions/act_") {
		t.Fatalf("fetch with header: %d %v", p.status, p.header)
	}
	// The right token with a form post: created.
	if p = c.post("/ui/actions/new", form()); p.status != http.StatusSeeOther {
		t.Fatalf("with token: %d %s", p.status, p.body)
	}
}

// TestSessionExpiry: idle and absolute limits, and a revoked token ends its
// sessions.
func TestSessionExpiry(t *testing.T) {
	h := newHarness(t, harnessOptions{direct: true})

	c := h.client()
	c.signIn()
	h.clock.Add(console.IdleTimeout - time.Minute)
	if p := c.get("/ui/actions"); p.status != 200 {
		t.Fatalf("within idle timeout: %d", p.status)
	}
	h.clock.Add(console.IdleTimeout + time.Second)
	if p := c.get("/ui/actions"); p.status != http.StatusSeeOther {
		t.Fatalf("after idle timeout: %d", p.status)
	}

	c = h.client()
	c.signIn()
	for i := 0; i < int(console.MaxSessionAge/time.Hour); i++ {
		h.clock.Add(time.Hour)
		if p := c.get("/ui/actions"); p.status != 200 {
			t.Fatalf("active session, hour %d: %d", i+1, p.status)
		}
	}
	h.clock.Add(time.Minute)
	if p := c.get("/ui/actions"); p.status != http.StatusSeeOther {
		t.Fatalf("after the absolute limit: %d", p.status)
	}

	// A token revoked through the API (not the console) ends its sessions.
	tok, err := h.tokens.Create(t.Context(), apitoken.CreateInput{Name: "ops", Scopes: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	c = h.client()
	if p := c.login(tok.Secret); p.status != http.StatusSeeOther {
		t.Fatalf("login with created token: %d", p.status)
	}
	if p := c.get("/ui/actions"); p.status != 200 {
		t.Fatalf("signed in: %d", p.status)
	}
	if st, _ := h.api("DELETE", "/v1/tokens/"+tok.ID, nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	h.clock.Add(11 * time.Second)
	if p := c.get("/ui/actions"); p.status != http.StatusSeeOther {
		t.Fatalf("after revocation: %d", p.status)
	}
}

const apiKey = "sk-console-LEAKCHECK-0123456789"

// TestActionFormWithoutScript creates and edits an API-key action with plain
// form posts: inline schema problems, a file upload, the key write-only and
// kept when left empty.
func TestActionFormWithoutScript(t *testing.T) {
	h := newHarness(t)
	up := newUpstream(t)
	c := h.client()
	c.signIn()

	// No server and a dangling $ref: invalid_schema, each problem listed.
	broken := inventorySpec("") + `
components:
  schemas:
    Item: {$ref: "#/components/schemas/Missing"}
`
	form := url.Values{"name": {"Inventory"}, "schema": {broken}, "auth": {"api_key"}, "api_key": {apiKey}, "key_auth_type": {"bearer"}}
	p := c.post("/ui/actions/new", form)
	if p.status != http.StatusBadRequest {
		t.Fatalf("broken schema: %d", p.status)
	}
	mustContain(t, p.body, `data-code="invalid_schema"`)
	mustContain(t, p.body, `id="schema-problem-list"`)
	mustContain(t, p.body, "servers")
	mustContain(t, p.body, "#/components/schemas/Missing")
	mustContain(t, p.body, "Secrets are never sent back to the browser")
	mustContain(t, p.body, "Inventory") // the typed values come back

	// "Check document" lists the operations without saving.
	form.Set("schema", inventorySpec(up.srv.URL))
	form.Set("intent", "check")
	p = c.post("/ui/actions/new", form)
	if p.status != 200 {
		t.Fatalf("check: %d %s", p.status, clip(p.body))
	}
	mustContain(t, p.body, `id="check-ok"`)
	mustContain(t, p.body, "2 operations found")
	mustContain(t, p.body, "createItem")
	if _, res := h.api("GET", "/v1/actions", nil); len(res["actions"].([]any)) != 0 {
		t.Fatal("check saved the action")
	}

	// Create from an uploaded file (the textarea empty).
	form.Del("intent")
	form.Set("schema", "")
	p = c.postMultipart("/ui/actions/new", form, "schema_file", "inventory.yaml", inventorySpec(up.srv.URL))
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ui/actions/act_") {
		t.Fatalf("create: %d %q %s", p.status, p.location, clip(p.body))
	}
	id := strings.TrimPrefix(p.location, "/ui/actions/")
	p = c.get(p.location)
	mustContain(t, p.body, "Created “Inventory”: 2 operations.")
	mustContain(t, p.body, "A key is <strong>set</strong>")
	mustContain(t, p.body, `value="bearer" id="key-bearer" checked`)
	mustNotContain(t, p.body, apiKey)

	// Save with the key field empty: kept. Then the key is used.
	p = c.post("/ui/actions/"+id, url.Values{"name": {"Inventory 2"}, "schema": {inventorySpec(up.srv.URL)}, "auth": {"api_key"},
		"key_auth_type": {"custom"}, "custom_header": {"X-Inventory-Key"}, "api_key": {""}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("update: %d %s", p.status, clip(p.body))
	}
	_, a := h.api("GET", "/v1/actions/"+id, nil)
	auth := a["auth"].(map[string]any)
	if a["name"] != "Inventory 2" || auth["auth_type"] != "custom" || auth["custom_header"] != "X-Inventory-Key" || auth["has_api_key"] != true {
		t.Fatalf("after update: %v", a)
	}
	p = c.post("/ui/actions/"+id+"/test", url.Values{"op": {"listItems"}, "mode": {"form"}, "arg.limit": {"5"}})
	if got := up.last(t).header.Get("X-Inventory-Key"); got != apiKey {
		t.Fatalf("upstream got key %q", got)
	}
	mustContain(t, p.body, "X-Inventory-Key: [redacted]")

	// The document's own scheme: "document" maps to no auth_type.
	p = c.post("/ui/actions/"+id, url.Values{"name": {"Inventory 2"}, "schema": {inventorySpec(up.srv.URL)}, "auth": {"api_key"},
		"key_auth_type": {"document"}, "custom_header": {"X-Ignored"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("update: %d", p.status)
	}
	if _, a = h.api("GET", "/v1/actions/"+id, nil); a["auth"].(map[string]any)["auth_type"] != nil || a["auth"].(map[string]any)["custom_header"] != nil {
		t.Fatalf("document placement: %v", a["auth"])
	}
	mustContain(t, c.get("/ui/actions/"+id).body, `value="document" id="key-document" checked`)

	// An auth problem names its field and opens the dialog.
	p = c.post("/ui/actions/"+id, url.Values{"name": {"Inventory 2"}, "schema": {inventorySpec(up.srv.URL)}, "auth": {"api_key"},
		"key_auth_type": {"custom"}, "custom_header": {""}})
	if p.status != http.StatusBadRequest {
		t.Fatalf("missing header: %d", p.status)
	}
	mustContain(t, p.body, `data-open-dialog="auth-dialog"`)
	mustContain(t, p.body, "auth.custom_header: required")

	// Delete asks first, then deletes.
	mustContain(t, c.get("/ui/actions/"+id+"/delete").body, "Delete “Inventory 2”?")
	if p = c.post("/ui/actions/"+id+"/delete", nil); p.status != http.StatusSeeOther || p.location != "/ui/actions" {
		t.Fatalf("delete: %d %q", p.status, p.location)
	}
	if st, _ := h.api("GET", "/v1/actions/"+id, nil); st != 404 {
		t.Fatalf("after delete: %d", st)
	}
	h.neverShown(apiKey, "LEAKCHECK")
}

// TestOAuthForm: every field of the OAuth dialog reaches the action's config;
// the client secret is write-only and kept when left empty.
func TestOAuthForm(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	c.signIn()
	const secret = "oauth-client-secret-LEAKCHECK"
	form := url.Values{
		"name":                       {"Calendar"},
		"schema":                     {inventorySpec("https://api.example.com/v1")},
		"auth":                       {"oauth"},
		"client_id":                  {"cal-client"},
		"client_secret":              {secret},
		"authorization_url":          {"https://accounts.example.com/auth"},
		"token_url":                  {"https://accounts.example.com/token"},
		"scope":                      {"read write"},
		"token_exchange_method":      {"basic"},
		"authorization_content_type": {"application/json"},
		"authorization_params":       {"access_type=offline\n\n# comment\nprompt = consent\n"},
		"revocation_url":             {"https://accounts.example.com/revoke"},
		"refresh_scope":              {"1"},
		"token_path_access_token":    {"authed_user.access_token"},
		// pkce unticked; the API-key section's fields are ignored
		"api_key":       {"ignored-api-key-value"},
		"key_auth_type": {"bearer"},
	}
	p := c.post("/ui/actions/new", form)
	if p.status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", p.status, clip(p.body))
	}
	id := strings.TrimPrefix(p.location, "/ui/actions/")
	_, a := h.api("GET", "/v1/actions/"+id, nil)
	auth := a["auth"].(map[string]any)
	want := map[string]any{
		"type": "oauth", "client_id": "cal-client", "authorization_url": "https://accounts.example.com/auth",
		"token_url": "https://accounts.example.com/token", "scope": "read write", "token_exchange_method": "basic",
		"authorization_content_type": "application/json", "pkce": false, "revocation_url": "https://accounts.example.com/revoke",
		"refresh_scope": true, "has_client_secret": true,
	}
	for k, v := range want {
		if auth[k] != v {
			t.Errorf("auth.%s = %v, want %v", k, auth[k], v)
		}
	}
	if ap := auth["authorization_params"].(map[string]any); len(ap) != 2 || ap["access_type"] != "offline" || ap["prompt"] != "consent" {
		t.Errorf("authorization_params = %v", ap)
	}
	if tp := auth["token_paths"].(map[string]any); tp["access_token"] != "authed_user.access_token" || len(tp) != 1 {
		t.Errorf("token_paths = %v", tp)
	}

	// The edit page shows it all back, the secret as "set", and the callback.
	p = c.get("/ui/actions/" + id)
	for _, s := range []string{`value="cal-client"`, "access_type=offline\nprompt=consent", `value="basic" id="exchange-basic" checked`,
		`id="pkce" name="pkce" value="1" aria-describedby`, "A secret is <strong>set</strong>", `value="` + h.srv.URL + `/oauth/callback"`,
		`data-copy="callback-url"`} {
		mustContain(t, p.body, s)
	}
	mustNotContain(t, p.body, secret)

	// Saving with an empty secret keeps it; a bad parameter line is refused.
	form.Set("client_secret", "")
	form.Set("pkce", "1")
	form.Set("authorization_params", "access_type")
	p = c.post("/ui/actions/"+id, form)
	if p.status != http.StatusBadRequest {
		t.Fatalf("bad params: %d", p.status)
	}
	mustContain(t, p.body, "auth.authorization_params: line 1: expected key=value")
	form.Set("authorization_params", "")
	if p = c.post("/ui/actions/"+id, form); p.status != http.StatusSeeOther {
		t.Fatalf("update: %d %s", p.status, clip(p.body))
	}
	_, a = h.api("GET", "/v1/actions/"+id, nil)
	auth = a["auth"].(map[string]any)
	if auth["has_client_secret"] != true || auth["pkce"] != true || auth["authorization_params"] != nil {
		t.Fatalf("after update: %v", auth)
	}
	h.neverShown(secret)
}

// TestTestConsoleWithoutScript: the generated form, typed conversion, the
// request shown with the credential masked, confirmation, invalid arguments.
func TestTestConsoleWithoutScript(t *testing.T) {
	h := newHarness(t)
	up := newUpstream(t)
	c := h.client()
	c.signIn()
	_, a := h.api("POST", "/v1/actions", map[string]any{"name": "Inventory", "schema": inventorySpec(up.srv.URL),
		"auth": map[string]any{"type": "api_key", "api_key": apiKey, "auth_type": "basic"}})
	id := a["id"].(string)

	p := c.get("/ui/actions/" + id + "/test")
	for _, s := range []string{`<option value="listItems" selected>`, `name="arg.limit"`, `inputmode="numeric"`,
		`<select id="arg-1" name="arg.kind"`, `<option>bolt</option>`, "How many"} {
		mustContain(t, p.body, s)
	}
	p = c.get("/ui/actions/" + id + "/test?op=createItem")
	for _, s := range []string{`name="arg.name"`, `name="arg.qty"`, `<textarea id="arg-2" name="arg.tags"`, "changes data"} {
		mustContain(t, p.body, s)
	}

	// Invalid: the validator's problems, nothing sent.
	n := up.count()
	p = c.post("/ui/actions/"+id+"/test", url.Values{"op": {"listItems"}, "mode": {"form"}, "arg.limit": {"1000"}})
	mustContain(t, p.body, `data-code="invalid_arguments"`)
	mustContain(t, p.body, "limit")
	p = c.post("/ui/actions/"+id+"/test", url.Values{"op": {"listItems"}, "mode": {"form"}, "arg.limit": {"many"}})
	mustContain(t, p.body, "limit: &#34;many&#34; is not a whole number")
	if up.count() != n {
		t.Fatal("invalid arguments reached the API")
	}

	// A consequential operation asks first and sends nothing.
	p = c.post("/ui/actions/"+id+"/test", url.Values{"op": {"createItem"}, "mode": {"form"},
		"arg.name": {"widget"}, "arg.qty": {"3"}, "arg.tags": {`["a","b"]`}})
	mustContain(t, p.body, `id="confirm-box"`)
	mustContain(t, p.body, "POST /items changes data on 127.0.0.1")
	mustContain(t, p.body, "(not sent)")
	if up.count() != n {
		t.Fatal("an unconfirmed operation reached the API")
	}
	args := regexp.MustCompile(`name="arguments" value="([^"]+)"`).FindStringSubmatch(p.body)
	if args == nil {
		t.Fatalf("no arguments in the confirm form:\n%s", clip(p.body))
	}
	// Confirm: sent, with the same arguments.
	p = c.post("/ui/actions/"+id+"/test", url.Values{"op": {"createItem"}, "mode": {"json"}, "confirmed": {"1"},
		"arguments": {htmlUnescape(args[1])}})
	mustContain(t, p.body, `id="response-status">HTTP 201`)
	mustContain(t, p.body, "Authorization: Basic [redacted]")
	mustContain(t, p.body, "&#34;created&#34;: true")
	got := up.last(t)
	if got.body != `{"name":"widget","qty":3,"tags":["a","b"]}` || !strings.HasPrefix(got.header.Get("Authorization"), "Basic ") {
		t.Fatalf("upstream got %q %v", got.body, got.header)
	}

	// Raw JSON mode.
	p = c.post("/ui/actions/"+id+"/test", url.Values{"op": {"listItems"}, "mode": {"json"}, "arguments": {`{"kind": "nut", "limit": 2}`}})
	mustContain(t, p.body, `id="response-status">HTTP 200`)
	if q := up.last(t).query; q != "limit=2&kind=nut" && q != "kind=nut&limit=2" {
		t.Fatalf("query %q", q)
	}
	p = c.post("/ui/actions/"+id+"/test", url.Values{"op": {"listItems"}, "mode": {"json"}, "arguments": {`[1]`}})
	mustContain(t, p.body, "arguments: must be a JSON object")
	h.neverShown(apiKey, "LEAKCHECK")
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#34;", `"`, "&quot;", `"`, "&amp;", "&", "&lt;", "<", "&gt;", ">", "&#39;", "'").Replace(s)
}

// TestTokensAndAudit: a created token's secret is shown once; revoking works
// and is audited; the audit page filters.
func TestTokensAndAudit(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	c.signIn()
	p := c.post("/ui/tokens", url.Values{"name": {"mcp"}, "scopes": {"invoke"}, "user": {"alice"}, "expires_in": {"86400"}})
	if p.status != http.StatusCreated {
		t.Fatalf("create: %d %s", p.status, clip(p.body))
	}
	secret := regexp.MustCompile(`value="(agt_[^"]+)"`).FindStringSubmatch(p.body)
	if secret == nil {
		t.Fatal("the new secret is not shown")
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Fatal("the page with the secret may be cached")
	}
	// The secret works, and is never shown again.
	req, _ := http.NewRequest("GET", h.srv.URL+"/v1/connections", nil)
	req.Header.Set("Authorization", "Bearer "+secret[1])
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("new token: %v %v", resp.StatusCode, err)
	}
	p = c.get("/ui/tokens")
	mustNotContain(t, p.body, secret[1])
	mustContain(t, p.body, "<code>alice</code>")
	tokID := regexp.MustCompile(`data-token="(tok_[0-9a-f]+)"`).FindStringSubmatch(p.body)[1]

	// A refused request shows the problem.
	p = c.post("/ui/tokens", url.Values{"name": {"bad"}, "scopes": {"admin"}, "user": {"bob"}})
	if p.status != http.StatusBadRequest {
		t.Fatalf("admin for a user: %d", p.status)
	}
	mustContain(t, p.body, "a token bound to a user can only have invoke")

	if p = c.post("/ui/tokens/"+tokID+"/revoke", nil); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.status)
	}
	p = c.get("/ui/tokens")
	mustContain(t, p.body, "Revoked token "+tokID)
	mustContain(t, p.body, "revoked ")

	p = c.get("/ui/audit")
	mustContain(t, p.body, "token.created")
	mustContain(t, p.body, "token.revoked")
	mustContain(t, p.body, "<code>bootstrap</code>")
	p = c.get("/ui/audit?type=token.revoked")
	mustNotContain(t, p.body, "<code>token.created</code>")
	mustContain(t, p.body, "<code>token.revoked</code>")
	if p = c.get("/ui/audit?after=x"); p.status != http.StatusBadRequest {
		t.Fatalf("bad after: %d", p.status)
	}
	h.neverShown(adminToken)
}

// TestPagesHeaders: every page has the strict CSP and no inline script, style
// or handler (the CSP would block them).
func TestPagesHeaders(t *testing.T) {
	h := newHarness(t)
	up := newUpstream(t)
	c := h.client()
	loginPage := c.get("/ui/login")
	c.signIn()
	_, a := h.api("POST", "/v1/actions", map[string]any{"name": "Inventory", "schema": inventorySpec(up.srv.URL), "auth": map[string]any{"type": "none"}})
	id := a["id"].(string)
	pages := map[string]page{"/ui/login": loginPage}
	for _, path := range []string{"/ui/actions", "/ui/actions/new", "/ui/actions/" + id, "/ui/actions/" + id + "/test",
		"/ui/actions/" + id + "/delete", "/ui/connections?user=alice", "/ui/tokens", "/ui/audit", "/ui/nope"} {
		pages[path] = c.get(path)
	}
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|\sstyle=|\son[a-z]+=|javascript:`)
	for path, p := range pages {
		want := 200
		if path == "/ui/nope" {
			want = 404
		}
		if p.status != want {
			t.Errorf("%s: %d", path, p.status)
		}
		csp := p.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if m := inline.FindString(p.body); m != "" {
			t.Errorf("%s: inline script or style %q", path, m)
		}
		if p.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, p.header.Get("Cache-Control"))
		}
	}
	// Assets are embedded and versioned.
	css := regexp.MustCompile(`href="(/ui/static/console\.css\?v=[0-9a-f]+)"`).FindStringSubmatch(pages["/ui/actions"].body)
	js := regexp.MustCompile(`src="(/ui/static/console\.js\?v=[0-9a-f]+)"`).FindStringSubmatch(pages["/ui/actions"].body)
	if css == nil || js == nil {
		t.Fatal("no versioned assets")
	}
	for _, a := range []struct{ path, ctype string }{{css[1], "text/css"}, {js[1], "text/javascript"}} {
		p := c.get(a.path)
		if p.status != 200 || !strings.HasPrefix(p.header.Get("Content-Type"), a.ctype) || !strings.Contains(p.header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: %d %v", a.path, p.status, p.header)
		}
	}
	if p := c.get("/ui/static/nope.js"); p.status != 404 {
		t.Errorf("missing asset: %d", p.status)
	}
}

// TestAdminOnlyToken: a token with admin but not invoke manages actions and
// tokens, but cannot run operations or touch end users' connections (the
// API's rule).
func TestAdminOnlyToken(t *testing.T) {
	h := newHarness(t)
	tok, err := h.tokens.Create(t.Context(), apitoken.CreateInput{Name: "admin only", Scopes: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	_, a := h.api("POST", "/v1/actions", map[string]any{"name": "X", "schema": inventorySpec("https://api.example.com"), "auth": map[string]any{"type": "none"}})
	id := a["id"].(string)
	c := h.client()
	if p := c.login(tok.Secret); p.status != http.StatusSeeOther {
		t.Fatalf("login: %d", p.status)
	}
	for _, path := range []string{"/ui/actions", "/ui/actions/" + id, "/ui/tokens", "/ui/audit"} {
		if p := c.get(path); p.status != 200 {
			t.Errorf("%s: %d", path, p.status)
		}
	}
	for _, path := range []string{"/ui/actions/" + id + "/test", "/ui/connections?user=alice"} {
		p := c.get(path)
		if p.status != http.StatusForbidden {
			t.Errorf("%s: %d", path, p.status)
		}
		mustContain(t, p.body, `lacks the &#34;invoke&#34; scope`)
	}
	if p := c.post("/ui/actions/"+id+"/test", url.Values{"op": {"listItems"}}); p.status != http.StatusForbidden {
		t.Errorf("run: %d", p.status)
	}
	if p := c.post("/ui/connections/revoke", url.Values{"action_id": {id}, "user": {"alice"}}); p.status != http.StatusForbidden {
		t.Errorf("revoke: %d", p.status)
	}
}
