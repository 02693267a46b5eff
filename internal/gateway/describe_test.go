package gateway_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/store/sqlite"
)

const describeKey = "sk-describe-LEAKCHECK-42"

const describeSpec = `openapi: 3.0.3
info: {title: T, version: "1"}
servers: [{url: "https://api.example.com/v1"}]
components:
  securitySchemes:
    q: {type: apiKey, in: query, name: api_key}
    c: {type: apiKey, in: cookie, name: session_key}
paths:
  /items/{id}:
    post:
      operationId: update
      security: [{q: []}]
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
        - {name: X-Trace, in: header, schema: {type: string}}
        - {name: api_key, in: query, schema: {type: string}}
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {name: {type: string}}}
      responses: {"200": {description: ok}}
  /open:
    get:
      operationId: open
      security: []
      responses: {"200": {description: ok}}
  /cookie:
    get:
      operationId: viaCookie
      security: [{c: []}]
      responses: {"200": {description: ok}}
`

// TestDescribe: the described request is the one invoke builds, and the
// credential shows as [redacted] wherever the action puts it.
func TestDescribe(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, _ := secrets.GenerateKey()
	g := gateway.New(gateway.Options{Store: db, Keys: secrets.NewKeyring(key), PublicURL: "http://localhost:8080"})
	k := describeKey

	cases := []struct {
		name      string
		auth      gateway.AuthInput
		op        string
		args      map[string]any
		want      []string // in the described request
		wantNot   []string
		paramsNot string // a parameter OperationInputs must not offer
	}{
		{"bearer", gateway.AuthInput{Auth: gateway.Auth{Type: "api_key", AuthType: "bearer"}, APIKey: &k}, "update",
			map[string]any{"id": 7, "X-Trace": "t1", "name": "n"},
			[]string{"POST https://api.example.com/v1/items/7", "Authorization: Bearer [redacted]", "X-Trace: t1", `{"name":"n"}`, "User-Agent: actiongate/"}, nil, ""},
		{"basic", gateway.AuthInput{Auth: gateway.Auth{Type: "api_key", AuthType: "basic"}, APIKey: &k}, "update",
			map[string]any{"id": 7}, []string{"Authorization: Basic [redacted]"}, nil, ""},
		{"custom header with an innocent name", gateway.AuthInput{Auth: gateway.Auth{Type: "api_key", AuthType: "custom", CustomHeader: "X-Trace"}, APIKey: &k}, "update",
			map[string]any{"id": 7, "X-Trace": "model-set"}, []string{"X-Trace: [redacted]"}, []string{"model-set"}, "X-Trace"},
		{"document query", gateway.AuthInput{Auth: gateway.Auth{Type: "api_key"}, APIKey: &k}, "update",
			map[string]any{"id": 7, "api_key": "model-set"}, []string{"https://api.example.com/v1/items/7?api_key=[redacted]"}, []string{"model-set", "Authorization"}, "api_key"},
		{"document cookie", gateway.AuthInput{Auth: gateway.Auth{Type: "api_key"}, APIKey: &k}, "viaCookie",
			nil, []string{"Cookie: [redacted]"}, nil, ""},
		{"no security", gateway.AuthInput{Auth: gateway.Auth{Type: "api_key", AuthType: "bearer"}, APIKey: &k}, "open",
			nil, []string{"GET https://api.example.com/v1/open"}, []string{"Authorization"}, ""},
		{"oauth", gateway.AuthInput{Auth: gateway.Auth{Type: "oauth", ClientID: "c", AuthorizationURL: "https://p.example/a", TokenURL: "https://p.example/t"}}, "open",
			nil, []string{"Authorization: Bearer [redacted]"}, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := g.CreateAction(t.Context(), gateway.ActionInput{Name: tc.name, Schema: describeSpec, Auth: tc.auth})
			if err != nil {
				t.Fatal(err)
			}
			d, err := g.Describe(t.Context(), a.ID, gateway.InvokeRequest{Operation: tc.op, Arguments: tc.args})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			b.WriteString(d.Method + " " + d.URL + "\n")
			for h, vs := range d.Headers {
				for _, v := range vs {
					b.WriteString(h + ": " + v + "\n")
				}
			}
			b.WriteString(d.Body)
			text := b.String()
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("description lacks %q:\n%s", w, text)
				}
			}
			for _, w := range append(tc.wantNot, describeKey, "LEAKCHECK") {
				if strings.Contains(text, w) {
					t.Errorf("description contains %q:\n%s", w, text)
				}
			}
			j, _ := json.Marshal(d)
			if strings.Contains(string(j), "LEAKCHECK") {
				t.Error("the JSON form holds the key")
			}
			if tc.paramsNot != "" {
				in, err := g.OperationInputs(t.Context(), a.ID, tc.op)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range in.Parameters {
					if strings.EqualFold(p.Name, tc.paramsNot) {
						t.Errorf("OperationInputs offers the credential's place %q", p.Name)
					}
				}
			}
		})
	}

	// Errors are invoke's.
	a, _ := g.CreateAction(t.Context(), gateway.ActionInput{Name: "e", Schema: describeSpec})
	if _, err := g.Describe(t.Context(), a.ID, gateway.InvokeRequest{Operation: "nope"}); err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Fatalf("unknown operation: %v", err)
	}
	if _, err := g.Describe(t.Context(), a.ID, gateway.InvokeRequest{Operation: "update", Arguments: map[string]any{"id": "x"}}); err == nil || !strings.Contains(err.Error(), "invalid_arguments") {
		t.Fatalf("bad arguments: %v", err)
	}
	src, err := g.ActionSource(t.Context(), a.ID)
	if err != nil || src.Schema != describeSpec || src.ServerURLOverride != "" || src.ServerURL != "https://api.example.com/v1" {
		t.Fatalf("source: %v %+v", err, src)
	}
}
