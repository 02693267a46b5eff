package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/app"
)

// gatewayHost is the gateway's public host in this test: the client below
// dials the real gateway for it, so the provider can have the callback
// registered before the gateway has a port. (The provider accepts plain http
// callbacks on localhost only.)
const gatewayHost = "localhost:1"

// TestREADMEWalkthroughOffline runs what the README's offline walkthrough does:
// register the notes API and the OAuth profile API as devapi prints them,
// invoke the first, sign in to the second through the real provider, and call
// it with the user's token.
func TestREADMEWalkthroughOffline(t *testing.T) {
	d, err := start("127.0.0.1:0", "127.0.0.1:0", "http://"+gatewayHost, "notes-key-LEAKCHECK", "client-secret-LEAKCHECK")
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()

	env := map[string]string{
		"ACTIONGATE_DATA_DIR":               t.TempDir(),
		"ACTIONGATE_ADDR":                   "127.0.0.1:0",
		"ACTIONGATE_PUBLIC_URL":             "http://" + gatewayHost,
		"ACTIONGATE_ADMIN_TOKEN":            "dev-admin-token-change-me",
		"ACTIONGATE_ALLOW_PRIVATE_NETWORKS": "1",
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	var logs bytes.Buffer
	go func() {
		done <- app.Run(ctx, app.Env{Args: []string{"serve"}, Getenv: func(k string) string { return env[k] },
			Stdout: io.Discard, Stderr: &logs, Ready: func(a string) { ready <- a }})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	defer func() { cancel(); <-done }()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			if a == gatewayHost {
				a = addr
			}
			return (&net.Dialer{}).DialContext(ctx, network, a)
		},
	}}
	api := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, "http://"+gatewayHost+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+env["ACTIONGATE_ADMIN_TOKEN"])
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	get := func(url string) string {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	// The notes API, with the API key devapi was started with.
	var notesAuth map[string]any
	if err := json.Unmarshal([]byte(d.notesAuth()), &notesAuth); err != nil || notesAuth["api_key"] != "notes-key-LEAKCHECK" {
		t.Fatalf("notes auth %v: %v", notesAuth, err)
	}
	st, notes := api("POST", "/v1/actions", map[string]any{"name": "Notes", "schema": get(d.notesURL + "/openapi.yaml"), "auth": notesAuth})
	if st != 201 {
		t.Fatalf("register notes: %d %v", st, notes)
	}
	st, res := api("POST", "/v1/actions/"+notes["id"].(string)+"/invoke", map[string]any{"operation": "listNotes", "arguments": map[string]any{"q": "milk"}})
	if st != 200 || res["status"] != float64(200) || !strings.Contains(toJSON(res["body"]), "Buy milk") {
		t.Fatalf("listNotes: %d %v", st, res)
	}
	st, res = api("POST", "/v1/actions/"+notes["id"].(string)+"/invoke", map[string]any{"operation": "createNote", "arguments": map[string]any{"text": "hi"}})
	if st != 409 {
		t.Fatalf("createNote unconfirmed: %d %v", st, res)
	}

	// The OAuth action, with the auth object devapi prints.
	var auth map[string]any
	if err := json.Unmarshal([]byte(d.oauthAuth()), &auth); err != nil {
		t.Fatal(err)
	}
	st, prof := api("POST", "/v1/actions", map[string]any{"name": "Dev profile", "schema": get(d.notesURL + "/oauth/openapi.yaml"), "auth": auth})
	if st != 201 || prof["callback_url"] != "http://"+gatewayHost+"/oauth/callback" {
		t.Fatalf("register profile: %d %v", st, prof)
	}
	invoke := map[string]any{"operation": "getMe", "user": "alice"}
	st, res = api("POST", "/v1/actions/"+prof["id"].(string)+"/invoke", invoke)
	link, _ := res["error"].(map[string]any)["sign_in_url"].(string)
	if st != 403 || link == "" {
		t.Fatalf("before sign-in: %d %v", st, res)
	}
	resp, err := browser.Get(link) // → provider → callback, as a browser goes
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Signed in to 127.0.0.1") {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, page)
	}
	st, res = api("POST", "/v1/actions/"+prof["id"].(string)+"/invoke", invoke)
	if st != 200 || !strings.Contains(toJSON(res["body"]), `"sub":"dev-user"`) {
		t.Fatalf("after sign-in: %d %v", st, res)
	}
	if strings.Contains(logs.String(), "LEAKCHECK") || strings.Contains(logs.String(), d.secret) {
		t.Fatal("a secret reached the gateway's log")
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
