// Command devapi runs two small APIs on this machine to try actiongate
// without the internet:
//
//   - a notes API (no auth, or an API key with --api-key) that serves its own
//     OpenAPI document at /openapi.yaml;
//   - an OAuth 2.0 sign-in provider — ory/fosite, the same real authorization
//     server actiongate's tests use (internal/oauth/oauthtest) — with a
//     protected API, GET /api/me, whose OpenAPI document the notes server
//     serves at /oauth/openapi.yaml. It signs everyone in as "dev-user"
//     without asking (there is no login page): it is for trials only.
//
// It prints the commands that register both as actions. Run the gateway with
// ACTIONGATE_ALLOW_PRIVATE_NETWORKS=1 to reach them. See the README.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/actiongate/actiongate/internal/oauth/oauthtest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9090", "address of the notes API")
	oauthAddr := flag.String("oauth-addr", "127.0.0.1:9091", "address of the OAuth provider")
	gateway := flag.String("gateway", "http://localhost:8080", "the gateway's public URL (its OAuth callback is registered with the provider)")
	apiKey := flag.String("api-key", "", "require Authorization: Bearer <key> on the notes API")
	secret := flag.String("client-secret", "devapi-client-secret", "the OAuth client's secret (fixed, so that actions registered once keep working across restarts)")
	flag.Parse()

	d, err := start(*addr, *oauthAddr, *gateway, *apiKey, *secret)
	if err != nil {
		log.Fatalf("devapi: %v", err)
	}
	defer d.close()
	fmt.Printf(`devapi: notes API at %[1]s (document: %[1]s/openapi.yaml)
devapi: OAuth provider at %[2]s, client actiongate-dev, callback %[3]s/oauth/callback
        (protected API document: %[1]s/oauth/openapi.yaml)

Register them once (with TOKEN set to your admin token); they keep working when devapi
restarts, but its provider remembers no sign-in across restarts: users sign in again.

curl -s %[1]s/openapi.yaml | jq -Rs '{name: "Notes", schema: ., auth: %[5]s}' |
  curl -s -X POST %[3]s/v1/actions -H "Authorization: Bearer $TOKEN" -d @- | jq '.error // {id, operations: [.operations[].id]}'

curl -s %[1]s/oauth/openapi.yaml | jq -Rs '{name: "Dev profile", schema: ., auth: %[4]s}' |
  curl -s -X POST %[3]s/v1/actions -H "Authorization: Bearer $TOKEN" -d @- | jq '.error // {id, callback_url}'
`, d.notesURL, d.provider.URL(), d.gateway, d.oauthAuth(), d.notesAuth())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
}

// devAPI is the running notes API and OAuth provider.
type devAPI struct {
	notesURL string
	gateway  string // the gateway's public URL, no trailing slash
	secret   string // the OAuth client secret
	apiKey   string // the notes API's key; "" for none
	provider *oauthtest.Server
	notes    *http.Server
}

// start starts both servers.
func start(addr, oauthAddr, gateway, apiKey, secret string) (*devAPI, error) {
	d := &devAPI{gateway: strings.TrimRight(gateway, "/"), secret: secret, apiKey: apiKey}
	var err error
	d.provider, err = oauthtest.Listen(oauthAddr, oauthtest.Options{
		EnforcePKCE: true,
		Clients: []oauthtest.Client{{
			ID: "actiongate-dev", Secret: d.secret, AuthMethod: oauthtest.AuthMethodBasic,
			RedirectURIs: []string{d.gateway + "/oauth/callback"},
			Scopes:       []string{"profile"},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("OAuth provider: %w", err)
	}
	d.provider.SetUser("dev-user")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		d.provider.Close()
		return nil, err
	}
	d.notesURL = "http://" + ln.Addr().String()
	d.notes = &http.Server{Handler: handler(d.notesURL, d.provider.URL(), apiKey), ReadHeaderTimeout: 10 * time.Second}
	go d.notes.Serve(ln)
	return d, nil
}

func (d *devAPI) close() {
	d.notes.Close()
	d.provider.Close()
}

// notesAuth is the auth object of the notes action, as JSON.
func (d *devAPI) notesAuth() string {
	if d.apiKey == "" {
		return `{"type":"none"}`
	}
	b, _ := json.Marshal(map[string]string{"type": "api_key", "api_key": d.apiKey, "auth_type": "bearer"})
	return string(b)
}

// oauthAuth is the auth object of the OAuth action, as JSON.
func (d *devAPI) oauthAuth() string {
	b, _ := json.Marshal(map[string]string{
		"type": "oauth", "client_id": "actiongate-dev", "client_secret": d.secret,
		"authorization_url": d.provider.AuthorizationURL(), "token_url": d.provider.TokenURL(),
		"revocation_url": d.provider.RevocationURL(), "scope": "profile", "token_exchange_method": "basic",
	})
	return string(b)
}

// handler serves the notes API and the two documents.
func handler(notesURL, providerURL, apiKey string) http.Handler {
	var (
		mu    sync.Mutex
		notes = []note{{ID: 1, Text: "Buy milk"}, {ID: 2, Text: "Call Alice about the offsite"}}
	)
	m := http.NewServeMux()
	m.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		security := ""
		if apiKey != "" {
			security = "security: [{key: []}]\n"
		}
		w.Header().Set("Content-Type", "application/yaml")
		fmt.Fprintf(w, notesDoc, notesURL, security)
	})
	m.HandleFunc("GET /oauth/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		fmt.Fprintf(w, profileDoc, providerURL)
	})
	authorized := func(w http.ResponseWriter, r *http.Request) bool {
		if apiKey != "" && r.Header.Get("Authorization") != "Bearer "+apiKey {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong API key"})
			return false
		}
		return true
	}
	m.HandleFunc("GET /notes", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(w, r) {
			return
		}
		q := strings.ToLower(r.URL.Query().Get("q"))
		mu.Lock()
		defer mu.Unlock()
		out := []note{}
		for _, n := range notes {
			if strings.Contains(strings.ToLower(n.Text), q) {
				out = append(out, n)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	m.HandleFunc("GET /notes/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(w, r) {
			return
		}
		id, _ := strconv.Atoi(r.PathValue("id"))
		mu.Lock()
		defer mu.Unlock()
		for _, n := range notes {
			if n.ID == id {
				writeJSON(w, http.StatusOK, n)
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such note"})
	})
	m.HandleFunc("POST /notes", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(w, r) {
			return
		}
		var in struct {
			Text string `json:"text"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil || in.Text == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {\"text\": \"…\"}"})
			return
		}
		mu.Lock()
		defer mu.Unlock()
		n := note{ID: len(notes) + 1, Text: in.Text}
		notes = append(notes, n)
		writeJSON(w, http.StatusCreated, n)
	})
	return m
}

type note struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// notesDoc is the notes API's OpenAPI document: its server URL, then a
// security line when an API key is required.
const notesDoc = `openapi: 3.1.0
info: {title: Notes, version: "1.0"}
servers: [{url: "%s"}]
components:
  securitySchemes:
    key: {type: http, scheme: bearer}
%s
paths:
  /notes:
    get:
      operationId: listNotes
      summary: List notes, optionally only those containing a word
      parameters:
        - {name: q, in: query, schema: {type: string}, description: a word the note must contain}
      responses: {"200": {description: the notes}}
    post:
      operationId: createNote
      summary: Add a note
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [text]
              properties: {text: {type: string, minLength: 1, maxLength: 500}}
      responses: {"201": {description: the new note}}
  /notes/{id}:
    get:
      operationId: getNote
      summary: Get one note
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
      responses: {"200": {description: the note}, "404": {description: no such note}}
`

// profileDoc describes the OAuth provider's protected API.
const profileDoc = `openapi: 3.1.0
info: {title: Dev profile, version: "1.0"}
servers: [{url: "%s"}]
paths:
  /api/me:
    get:
      operationId: getMe
      summary: Who the signed-in user is, and the scope granted
      responses: {"200": {description: the user}, "401": {description: no or bad token}}
`
