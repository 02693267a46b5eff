package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(requestDoc), "")
	f.Add([]byte(bodyDoc), "https://example.com")
	f.Add([]byte("openapi: 3.1.0\ninfo: {title: t}\npaths:\n  /a/{b}:\n    get:\n      parameters: [{$ref: '#/x'}]\n"), "")
	f.Add([]byte("openapi: 3.0.0\ncomponents: {schemas: {A: {$ref: '#/components/schemas/A'}}}\n"), "http://x")
	f.Add([]byte("swagger: '2.0'\nhost: h\npaths: {/a: {post: {parameters: [{in: formData, name: f, type: file}]}}}\n"), "")
	f.Add([]byte(`{"openapi":"3.0.0","servers":[{"url":"https://{a}.x/{b}","variables":{"a":{"default":"q"}}}],"paths":{"/":{"get":{}}}}`), "")
	f.Add([]byte("a: &a [*a, *a]\nopenapi: 3.0.0\n"), "")
	f.Add([]byte("openapi: 3.0.0\nx: &a {b: &b [*a, *a, *a], c: *b}\npaths: {/x: {get: {responses: {200: *a}}}}\n"), "")
	f.Add([]byte("openapi: 3.0.0\npaths: {/x: {<<: {get: {}}}}\n"), "")
	f.Add([]byte(strings.Repeat("[", 10000)), "")
	f.Add([]byte("openapi: 3.0.0\n"+strings.Repeat("a:\n ", 300)), "")
	f.Add([]byte("\x00\xff"), "\x00")
	f.Fuzz(func(t *testing.T, data []byte, serverURL string) {
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("slow input %q", data)) })
		defer watchdog.Stop()
		doc, err := parse(data, serverURL)
		if err != nil {
			var se *SchemaError
			if !errors.As(err, &se) || len(se.Problems) == 0 {
				t.Fatalf("error %v is not a SchemaError with problems", err)
			}
			return
		}
		if len(doc.Operations) == 0 {
			t.Fatal("a document without operations imported")
		}
		if _, err := url.Parse(doc.ServerURL); err != nil || doc.ServerURL == "" {
			t.Fatalf("ServerURL %q", doc.ServerURL)
		}
		for _, op := range doc.Operations {
			if !validID(op.ID) {
				t.Fatalf("invalid id %q", op.ID)
			}
			op.Parameters()
			op.BodySchema()
			op.APIKeyPlacement()
			_, _ = op.BuildRequest(t.Context(), "", map[string]any{"a": 1, "requestBody": []any{"x"}}, nil)
		}
	})
}

func FuzzBuildRequest(f *testing.F) {
	d, err := Parse([]byte(requestDoc+strings.TrimPrefix(bodyDoc[strings.Index(bodyDoc, "paths:"):], "paths:")), "")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(0, `{"id":"a/b","ids":["a,b","c"],"filter":{"status":"open"},"X-Ids":[1,2]}`, "api_key")
	f.Add(1, `{"path":"..","label":["a"],"matrix":{"a":{"b":1}}}`, "")
	f.Add(2, `{"id":7,"name":"x","tags":[null,{"a":[]}]}`, "X-Request-Id")
	f.Add(3, `{"requestBody":[{"name":"\u0000"}]}`, "")
	f.Add(6, `{"id":1,"requestBody":"\r\n"}`, "")
	f.Add(7, `{"To":{"a":{"b":{"c":{}}}},"Meta":[[[]]],"Style":1e400}`, "")
	f.Add(8, `{"name":true,"meta":[{"x":null}]}`, "")
	f.Add(0, `{"id":"1","X-Request-Id":"a\nb","session":"\u00ff;=","limit":1e308,"q":-0}`, "session")
	f.Fuzz(func(t *testing.T, opIndex int, argsJSON, stripName string) {
		if opIndex < 0 {
			opIndex = -opIndex
		}
		op := d.Operations[opIndex%len(d.Operations)]
		var args map[string]any
		if json.Unmarshal([]byte(argsJSON), &args) != nil {
			return
		}
		strip := []Credential{{In: "header", Name: stripName}, {In: "query", Name: stripName}}
		req, err := op.BuildRequest(t.Context(), "", args, strip)
		if err != nil {
			var ae *ArgumentsError
			if !errors.As(err, &ae) || len(ae.Problems) == 0 {
				t.Fatalf("error %v is not an ArgumentsError with problems", err)
			}
			return
		}
		if req.URL.Host != "api.example.com" {
			t.Fatalf("request escaped its host: %s", req.URL)
		}
		for name, vals := range req.Header {
			for _, v := range vals {
				if strings.ContainsAny(v, "\r\n") {
					t.Fatalf("header %s carries a line break", name)
				}
			}
		}
		if stripName != "" && (req.Header.Get(stripName) != "" && !strings.EqualFold(stripName, "Accept") && !strings.EqualFold(stripName, "Content-Type") || req.URL.Query().Has(stripName)) {
			t.Fatalf("stripped credential %q sent: %s %v", stripName, req.URL, req.Header)
		}
	})
}

func TestAliasBombsStayCheap(t *testing.T) {
	bomb := `openapi: 3.0.0
info: {title: t, version: '1'}
servers: [{url: 'https://example.com'}]
x-a: &a {type: object, properties: {l: *a, r: *a}, enum: &e [*e, *e]}
components:
  schemas:
    S: &s {type: object, properties: {a: *s, b: *s, c: *s}, default: &d {x: [*d, *d, *d]}}
paths:
  /x:
    post:
      operationId: x
      requestBody: {content: {application/json: {schema: *s}}}
      responses: {"200": {description: ok}}
`
	done := make(chan struct{})
	go func() {
		defer close(done)
		d, err := parse([]byte(bomb), "")
		if err != nil {
			t.Error(err)
			return
		}
		op := d.Operations[0]
		op.BodySchema()
		_, _ = op.BuildRequest(t.Context(), "", map[string]any{"a": map[string]any{}}, nil)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("an alias bomb is still being expanded")
	}
}
