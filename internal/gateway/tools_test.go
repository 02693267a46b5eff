package gateway_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/store/sqlite"
)

func newGateway(t testing.TB) *gateway.Gateway {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "actiongate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	return gateway.New(gateway.Options{Store: db, Keys: secrets.NewKeyring(key), PublicURL: "https://gw.example.com",
		Now: func() time.Time { now = now.Add(time.Millisecond); return now }})
}

const toolsDoc = `openapi: 3.1.0
info: {title: T, version: "1"}
servers: [{url: "https://api.example.com"}]
paths:
  /a: {get: {operationId: getA, parameters: [{name: key, in: query, schema: {type: string}}]}}
  /b: {post: {operationId: postB}}
`

func create(t testing.TB, g *gateway.Gateway, name, schema string, auth gateway.AuthInput) *gateway.Action {
	t.Helper()
	a, err := g.CreateAction(context.Background(), gateway.ActionInput{Name: name, Schema: schema, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestToolSetCache: tools are generated once per action version and named together; an
// action's change regenerates its own tools only.
func TestToolSetCache(t *testing.T) {
	ctx := context.Background()
	g := newGateway(t)
	none := gateway.AuthInput{Auth: gateway.Auth{Type: gateway.AuthNone}}
	a := create(t, g, "Alpha", toolsDoc, none)
	b := create(t, g, "Alpha", toolsDoc, none) // same name: its tools are suffixed

	first, err := g.ToolSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := g.ToolSet(ctx)
	if again != first || len(first.Tools) != 4 {
		t.Fatalf("unchanged actions: a new set (%p, %p) or %d tools", first, again, len(first.Tools))
	}
	if first.Tools[0].Name != "alpha_getA" || first.Tools[0].ActionID != a.ID || !strings.HasPrefix(first.Tools[2].Name, "alpha_getA_") {
		t.Fatalf("names: %q %q", first.Tools[0].Name, first.Tools[2].Name)
	}

	// Changing b (an API key in the query, where the document's key parameter is) regenerates
	// b's tools only; a's keep their rendered schemas, and their names.
	key := "k-1234567890"
	_, err = g.UpdateAction(ctx, b.ID, gateway.ActionInput{Name: "Alpha", Schema: strings.Replace(toolsDoc,
		"servers:", "components: {securitySchemes: {k: {type: apiKey, in: query, name: key}}}\nsecurity: [{k: []}]\nservers:", 1),
		Auth: gateway.AuthInput{Auth: gateway.Auth{Type: gateway.AuthAPIKey}, APIKey: &key}})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := g.ToolSet(ctx)
	if after == first || after.Version == first.Version {
		t.Fatal("a changed action did not change the set")
	}
	if reflect.ValueOf(after.Tools[0].Parameters).UnsafePointer() != reflect.ValueOf(first.Tools[0].Parameters).UnsafePointer() {
		t.Error("an unchanged action's tools were generated again")
	}
	if after.Tools[0].Name != first.Tools[0].Name || after.Tools[2].Name != first.Tools[2].Name {
		t.Errorf("renamed: %q %q", after.Tools[0].Name, after.Tools[2].Name)
	}
	props := after.Tools[2].Parameters["properties"].(map[string]any)
	if _, ok := props["key"]; ok {
		t.Error("the API key's query parameter is offered as an argument")
	}
	if tool, ok := after.Lookup(after.Tools[3].Name); !ok || tool.Operation != "postB" || tool.ActionID != b.ID {
		t.Errorf("lookup: %+v", tool)
	}

	if err := g.DeleteAction(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	last, _ := g.ToolSet(ctx)
	if len(last.Tools) != 2 || last.Tools[0].Name != "alpha_getA" {
		t.Fatalf("after delete: %d tools, %q", len(last.Tools), last.Tools[0].Name)
	}
	if _, err := g.Tools(ctx, a.ID); err == nil {
		t.Error("tools of a deleted action")
	}
}

// BenchmarkToolSet lists the tools of OpenAI's 288-operation document: after the first
// listing, only the cached path runs (go test -bench ToolSet ./internal/gateway/).
func BenchmarkToolSet(b *testing.B) {
	dir := os.Getenv("ACTIONGATE_SPECS")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "specs")
	}
	data, err := os.ReadFile(filepath.Join(dir, "public", "openai__openai-api.yaml"))
	if err != nil {
		b.Skip(err)
	}
	g := newGateway(b)
	create(b, g, "OpenAI", string(data), gateway.AuthInput{Auth: gateway.Auth{Type: gateway.AuthNone}})
	start := time.Now()
	set, err := g.ToolSet(context.Background())
	if err != nil || len(set.Tools) != 288 {
		b.Fatalf("%v, %d tools", err, len(set.Tools))
	}
	b.Logf("first listing (parse and render): %v", time.Since(start))
	b.ResetTimer()
	for b.Loop() {
		if _, err := g.ToolSet(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
