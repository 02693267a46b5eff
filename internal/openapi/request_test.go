package openapi

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func assertProblems(t *testing.T, err error, want []string) {
	t.Helper()
	var ae *ArgumentsError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T), want *ArgumentsError %q", err, err, want)
	}
	if !reflect.DeepEqual(ae.Problems, want) {
		t.Errorf("problems\n got %q\nwant %q", ae.Problems, want)
	}
}

func readBody(t *testing.T, req *http.Request) string {
	t.Helper()
	if req.Body == nil {
		return ""
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newCountingServer returns the URL of a server that reports every request on hit.
func newCountingServer(t *testing.T, hit chan struct{}) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case hit <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

const requestDoc = `openapi: 3.0.3
info: {title: t, version: '1'}
servers: [{url: 'https://api.example.com/v1'}]
paths:
  /items/{id}:
    get:
      operationId: getItem
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {name: ids, in: query, style: form, explode: false, schema: {type: array, items: {type: string}}}
        - {name: tags, in: query, schema: {type: array, items: {type: string}}}
        - {name: filter, in: query, style: deepObject, explode: true, schema: {type: object, properties: {status: {type: string}}}}
        - {name: point, in: query, schema: {type: object, properties: {x: {type: integer}, y: {type: integer}}}}
        - {name: pointFlat, in: query, explode: false, schema: {type: object}}
        - {name: words, in: query, style: spaceDelimited, schema: {type: array, items: {type: string}}}
        - {name: pipes, in: query, style: pipeDelimited, schema: {type: array, items: {type: string}}}
        - {name: q, in: query, schema: {type: string}}
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
        - {name: json, in: query, content: {application/json: {schema: {type: object}}}}
        - {name: X-Request-Id, in: header, schema: {type: string}}
        - {name: X-Ids, in: header, schema: {type: array, items: {type: integer}}}
        - {name: session, in: cookie, schema: {type: string}}
        - {name: lang, in: cookie, schema: {type: string}}
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
  /files/{path}/{label}/{matrix}:
    get:
      operationId: getFile
      parameters:
        - {name: path, in: path, required: true, schema: {type: string}}
        - {name: label, in: path, required: true, style: label, schema: {type: array, items: {type: string}}}
        - {name: matrix, in: path, required: true, style: matrix, explode: true, schema: {type: array, items: {type: string}}}
      responses: {"200": {description: ok}}
`

func TestQueryEncodings(t *testing.T) {
	d := mustParse(t, requestDoc, "")
	op, _ := d.Operation("getItem")
	tests := []struct {
		name string
		args map[string]any
		want string
	}{
		{"form explode=false (Q29)", map[string]any{"ids": []any{"a,b", "c"}}, "ids=a%2Cb,c"},
		{"form explode default (Q29)", map[string]any{"tags": []any{"x", "y"}}, "tags=x&tags=y"},
		{"deepObject (Q29)", map[string]any{"filter": map[string]any{"status": "open"}}, "filter[status]=open"},
		{"object form explode: each property its own key", map[string]any{"point": map[string]any{"y": 2, "x": 1}}, "x=1&y=2"},
		{"object form explode=false", map[string]any{"pointFlat": map[string]any{"b": "2", "a": "1"}}, "pointFlat=a,1,b,2"},
		{"spaceDelimited", map[string]any{"words": []any{"a", "b c"}}, "words=a%20b%20c"},
		{"pipeDelimited", map[string]any{"pipes": []any{"a", "b|c"}}, "pipes=a|b%7Cc"},
		{"escaping", map[string]any{"q": "a b&c=d+é"}, "q=a%20b%26c%3Dd%2B%C3%A9"},
		{"numbers", map[string]any{"limit": 5.0}, "limit=5"},
		{"content parameter as JSON", map[string]any{"json": map[string]any{"a": 1}}, "json=%7B%22a%22%3A1%7D"},
		{"declaration order; null is absent", map[string]any{"q": "z", "tags": []any{"t"}, "limit": nil}, "tags=t&q=z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := map[string]any{"id": "1"}
			for k, v := range tt.args {
				args[k] = v
			}
			req, err := op.BuildRequest(t.Context(), "https://api.example.com/v1", args, nil)
			if err != nil {
				t.Fatal(err)
			}
			if req.URL.RawQuery != tt.want {
				t.Errorf("query %q, want %q", req.URL.RawQuery, tt.want)
			}
		})
	}
}

func TestPathHeaderCookie(t *testing.T) {
	d := mustParse(t, requestDoc, "")
	op, _ := d.Operation("getItem")
	req, err := op.BuildRequest(t.Context(), "", map[string]any{
		"id":           "a/b c?d#e",
		"X-Request-Id": "r-1",
		"X-Ids":        []any{1, 2},
		"session":      "s 1;x",
		"lang":         "en",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.String(); got != "https://api.example.com/v1/items/a%2Fb%20c%3Fd%23e" {
		t.Errorf("URL %s", got)
	}
	if req.Method != "GET" || req.Body != nil {
		t.Errorf("method %s body %v", req.Method, req.Body)
	}
	want := http.Header{
		"X-Request-Id": {"r-1"},
		"X-Ids":        {"1,2"},
		"Cookie":       {"session=s%201%3Bx; lang=en"},
		"Accept":       {"application/json"},
	}
	if !reflect.DeepEqual(req.Header, want) {
		t.Errorf("headers\n got %v\nwant %v", req.Header, want)
	}

	op, _ = d.Operation("getFile")
	req, err = op.BuildRequest(t.Context(), "", map[string]any{"path": "dir/x.txt", "label": []any{"a", "b"}, "matrix": []any{"m", "n"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.EscapedPath(); got != "/v1/files/dir%2Fx.txt/.a,b/;matrix=m;matrix=n" {
		t.Errorf("path %s", got)
	}

	_, err = d.Operations[0].BuildRequest(t.Context(), "", map[string]any{"id": "1", "X-Request-Id": "a\r\nInjected: 1"}, nil)
	assertProblems(t, err, []string{"X-Request-Id: header value must not contain line breaks or control characters"})
}

func TestValidationProblems(t *testing.T) {
	d := mustParse(t, requestDoc, "")
	op, _ := d.Operation("getItem")
	_, err := op.BuildRequest(t.Context(), "", map[string]any{
		"limit":  500,
		"tags":   "not-a-list",
		"color":  "red",
		"filter": map[string]any{"status": 3},
		"X-Ids":  []any{1, "two"},
	}, nil)
	assertProblems(t, err, []string{
		"X-Ids[1]: must be integer, not string",
		"color: unknown argument",
		"filter.status: must be string, not number",
		"id: required path parameter missing",
		"limit: must be <= 100",
		"tags: must be array, not string",
	})
	var ae *ArgumentsError
	errors.As(err, &ae)
	if !strings.HasPrefix(ae.Error(), "invalid arguments: X-Ids[1]") {
		t.Errorf("Error() = %q", ae.Error())
	}
}

const bodyDoc = `openapi: 3.0.3
info: {title: t, version: '1'}
servers: [{url: 'https://api.example.com'}]
paths:
  /pets/{id}:
    put:
      operationId: updatePet
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
        - {name: dryRun, in: query, schema: {type: boolean}}
      requestBody:
        required: true
        content:
          application/x-www-form-urlencoded:
            schema: {$ref: '#/components/schemas/Pet'}
          application/json:
            schema: {$ref: '#/components/schemas/Pet'}
      responses: {"200": {description: ok}}
  /pets:
    post:
      operationId: addPets
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: array, items: {$ref: '#/components/schemas/Pet'}}
      responses: {"200": {description: ok}}
  /pets/{id}/rename:
    post:
      operationId: renamePet
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {id: {type: string}, name: {type: string}}}
      responses: {"200": {description: ok}}
  /pets/{id}/photo:
    post:
      operationId: uploadPhoto
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      requestBody:
        content:
          application/octet-stream:
            schema: {type: string, format: binary}
      responses: {"200": {description: ok, content: {application/xml: {}, text/plain: {}}}}
  /forms:
    post:
      operationId: submitForm
      requestBody:
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              properties:
                To: {type: string}
                MediaUrl: {type: array, items: {type: string}}
                Meta: {type: object}
                Style: {type: object}
            encoding:
              Meta: {style: deepObject, explode: true}
      responses: {"200": {description: ok}}
  /upload:
    post:
      operationId: upload
      requestBody:
        content:
          multipart/form-data:
            schema:
              type: object
              properties:
                name: {type: string}
                meta: {type: object}
      responses: {"200": {description: ok}}
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: {type: string, minLength: 1}
        age: {type: integer}
        tags: {type: array, items: {type: string}}
`

func TestBodies(t *testing.T) {
	d := mustParse(t, bodyDoc, "")
	tests := []struct {
		op          string
		args        map[string]any
		url         string
		contentType string
		body        string
		whole       bool
	}{
		{
			op:          "updatePet",
			args:        map[string]any{"id": 7, "dryRun": true, "name": "Rex", "tags": []any{"a"}},
			url:         "https://api.example.com/pets/7?dryRun=true",
			contentType: "application/json", // JSON is picked when both are offered
			body:        `{"name":"Rex","tags":["a"]}`,
		},
		{
			op:          "addPets",
			args:        map[string]any{"requestBody": []any{map[string]any{"name": "a"}}},
			url:         "https://api.example.com/pets",
			contentType: "application/json",
			body:        `[{"name":"a"}]`,
			whole:       true,
		},
		{
			op:          "renamePet", // body property "id" collides with the path parameter
			args:        map[string]any{"id": 7, "requestBody": map[string]any{"id": "new-id", "name": "n"}},
			url:         "https://api.example.com/pets/7/rename",
			contentType: "application/json",
			body:        `{"id":"new-id","name":"n"}`,
			whole:       true,
		},
		{
			op:          "uploadPhoto",
			args:        map[string]any{"id": 1, "requestBody": "raw bytes"},
			url:         "https://api.example.com/pets/1/photo",
			contentType: "application/octet-stream",
			body:        "raw bytes",
			whole:       true,
		},
		{
			op:          "submitForm",
			args:        map[string]any{"To": "+1 555", "MediaUrl": []any{"https://a/1", "https://a/2"}, "Meta": map[string]any{"k": "v"}, "Style": map[string]any{"color": "red"}},
			url:         "https://api.example.com/forms",
			contentType: "application/x-www-form-urlencoded",
			body:        "MediaUrl=https%3A%2F%2Fa%2F1&MediaUrl=https%3A%2F%2Fa%2F2&Meta[k]=v&color=red&To=%2B1%20555",
		},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			op, _ := d.Operation(tt.op)
			if _, _, whole := op.BodySchema(); whole != tt.whole {
				t.Errorf("whole = %v", whole)
			}
			req, err := op.BuildRequest(t.Context(), "", tt.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			if req.URL.String() != tt.url {
				t.Errorf("URL %s", req.URL)
			}
			if got := req.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q", got)
			}
			if got := readBody(t, req); got != tt.body {
				t.Errorf("body %s\nwant %s", got, tt.body)
			}
			if req.GetBody == nil || req.ContentLength != int64(len(tt.body)) {
				t.Error("request body cannot be replayed or has no length")
			}
		})
	}

	op, _ := d.Operation("uploadPhoto")
	req, _ := op.BuildRequest(t.Context(), "", map[string]any{"id": 1}, nil)
	if got := req.Header.Get("Accept"); got != "application/xml, text/plain" {
		t.Errorf("Accept %q", got)
	}
	if req.Body != nil || req.Header.Get("Content-Type") != "" {
		t.Error("optional body sent when absent")
	}
}

func TestMultipartBody(t *testing.T) {
	d := mustParse(t, bodyDoc, "")
	op, _ := d.Operation("upload")
	req, err := op.BuildRequest(t.Context(), "", map[string]any{"name": "n", "meta": map[string]any{"a": 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("Content-Type %q", req.Header.Get("Content-Type"))
	}
	r := multipart.NewReader(req.Body, params["boundary"])
	got := map[string]string{}
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		got[p.FormName()] = p.Header.Get("Content-Type") + "|" + string(b)
	}
	want := map[string]string{"name": "|n", "meta": `application/json|{"a":1}`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parts %v", got)
	}
}

func TestBodyProblems(t *testing.T) {
	d := mustParse(t, bodyDoc, "")
	op, _ := d.Operation("updatePet")
	_, err := op.BuildRequest(t.Context(), "", map[string]any{"id": "seven", "age": 1.5, "name": ""}, nil)
	assertProblems(t, err, []string{
		"age: must be integer, not number",
		"id: must be integer, not string",
		"name: must be at least 1 character long",
	})
	_, err = op.BuildRequest(t.Context(), "", map[string]any{"id": 1}, nil)
	assertProblems(t, err, []string{"name: required body property missing"})
	_, err = op.BuildRequest(t.Context(), "", map[string]any{"id": 1, "requestBody": map[string]any{"name": "x"}}, nil)
	assertProblems(t, err, []string{"name: required body property missing", "requestBody: unknown argument"})

	op, _ = d.Operation("addPets")
	_, err = op.BuildRequest(t.Context(), "", map[string]any{}, nil)
	assertProblems(t, err, []string{"requestBody: required request body missing"})
	_, err = op.BuildRequest(t.Context(), "", map[string]any{"requestBody": []any{map[string]any{"age": 2}}}, nil)
	assertProblems(t, err, []string{"requestBody[0].name: required property missing"})
}

func TestSwagger2Bodies(t *testing.T) {
	doc := `swagger: "2.0"
info: {title: t, version: '1'}
host: slack.com
basePath: /api
schemes: [https]
consumes: [application/x-www-form-urlencoded, application/json]
paths:
  /chat.postMessage:
    post:
      operationId: chat_postMessage
      parameters:
        - {name: token, in: header, type: string}
        - {name: channel, in: formData, required: true, type: string}
        - {name: users, in: formData, type: array, items: {type: string}}
        - {name: ids, in: query, type: array, items: {type: integer}}
        - {name: multi, in: query, type: array, collectionFormat: multi, items: {type: integer}}
        - {name: limit, in: query, type: integer, maximum: 10, exclusiveMaximum: true}
      responses: {"200": {description: ok}}
  /pets:
    post:
      operationId: addPet
      parameters:
        - {name: body, in: body, required: true, schema: {$ref: '#/definitions/Pet'}}
      responses: {"200": {description: ok}}
definitions:
  Pet:
    type: object
    properties:
      name: {type: string, x-nullable: true}
`
	d := mustParse(t, doc, "")
	op, _ := d.Operation("chat_postMessage")
	req, err := op.BuildRequest(t.Context(), "", map[string]any{
		"token": "t", "channel": "C1", "users": []any{"U1", "U2"}, "ids": []any{1, 2}, "multi": []any{3, 4},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.String(); got != "https://slack.com/api/chat.postMessage?ids=1,2&multi=3&multi=4" {
		t.Errorf("URL %s", got)
	}
	if got := readBody(t, req); got != "channel=C1&users=U1,U2" {
		t.Errorf("body %s", got)
	}
	if got := req.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type %s", got)
	}
	_, err = op.BuildRequest(t.Context(), "", map[string]any{"limit": 10}, nil)
	assertProblems(t, err, []string{"channel: required body property missing", "limit: must be < 10"})

	op, _ = d.Operation("addPet")
	req, err = op.BuildRequest(t.Context(), "", map[string]any{"name": nil}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, req); got != `{"name":null}` {
		t.Errorf("body %s", got)
	}
}

func TestStripCredentials(t *testing.T) {
	// Q25: arguments aimed at the credential's header, query key or cookie are never sent.
	doc := `openapi: 3.0.3
info: {title: t, version: '1'}
servers: [{url: 'https://api.example.com'}]
paths:
  /things:
    get:
      operationId: list
      parameters:
        - {name: api_key, in: header, required: true, schema: {type: string}}
        - {name: key, in: query, schema: {type: string}}
        - {name: q, in: query, schema: {type: string}}
        - {name: obj, in: query, schema: {type: object}}
      responses: {"200": {description: ok}}
`
	d := mustParse(t, doc, "")
	op, _ := d.Operation("list")
	strip := []Credential{{In: "header", Name: "API_KEY"}, {In: "query", Name: "key"}, {In: "header", Name: "Authorization"}, {In: "cookie", Name: "sid"}}
	req, err := op.BuildRequest(t.Context(), "", map[string]any{
		"api_key": "model-chosen", "key": "k", "q": "x", "Authorization": "Bearer stolen", "sid": "c",
		"obj": map[string]any{"key": "exploded", "other": "1"},
	}, strip)
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.RawQuery != "q=x&other=1" || req.Header.Get("api_key") != "" || req.Header.Get("Authorization") != "" || req.Header.Get("Cookie") != "" {
		t.Errorf("credential argument sent: %s %v", req.URL, req.Header)
	}
	// Without the strip list the declared header is an ordinary required parameter.
	_, err = op.BuildRequest(t.Context(), "", map[string]any{}, nil)
	assertProblems(t, err, []string{"api_key: required header parameter missing"})
}

func TestLiteralPathParts(t *testing.T) {
	doc := `openapi: 3.0.3
info: {title: t, version: '1'}
servers: [{url: 'https://api.example.com'}]
paths:
  /responses/{id}?beta=true:
    get:
      operationId: getBeta
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {name: limit, in: query, schema: {type: integer}}
      responses: {"200": {description: ok}}
  /files/{file_id}#add_shared_link:
    put:
      operationId: addLink
      parameters:
        - {name: file_id, in: path, required: true, schema: {type: string}}
      responses: {"200": {description: ok}}
  /workflows/<WORKFLOW_ID>/{undeclared}:
    post:
      operationId: start
      responses: {"200": {description: ok}}
`
	d := mustParse(t, doc, "")
	for _, tt := range []struct {
		id   string
		args map[string]any
		want string
	}{
		{"getBeta", map[string]any{"id": "r1", "limit": 2}, "https://api.example.com/responses/r1?beta=true&limit=2"},
		{"addLink", map[string]any{"file_id": "f1"}, "https://api.example.com/files/f1"},
		{"start", map[string]any{"undeclared": "u"}, "https://api.example.com/workflows/%3CWORKFLOW_ID%3E/u"},
	} {
		op, _ := d.Operation(tt.id)
		req, err := op.BuildRequest(t.Context(), "", tt.args, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.id, err)
		}
		if req.URL.String() != tt.want {
			t.Errorf("%s: %s, want %s", tt.id, req.URL, tt.want)
		}
	}
	op, _ := d.Operation("start")
	if p := op.Parameters(); len(p) != 1 || p[0].Name != "undeclared" || !p[0].Required {
		t.Errorf("undeclared template variable: %+v", p)
	}
}

func TestBuildRequestBaseURL(t *testing.T) {
	d := mustParse(t, requestDoc, "")
	op, _ := d.Operation("getItem")
	for _, base := range []string{"/relative", "ftp://x", "https://u:p@x.example.com"} {
		_, err := op.BuildRequest(t.Context(), base, map[string]any{"id": "1"}, nil)
		var ae *ArgumentsError
		if err == nil || errors.As(err, &ae) {
			t.Errorf("base %q: %v", base, err)
		}
	}
	req, err := op.BuildRequest(t.Context(), "https://other.example.com/base/", map[string]any{"id": "1"}, nil)
	if err != nil || req.URL.String() != "https://other.example.com/base/items/1" {
		t.Errorf("%v %v", req, err)
	}
}

func TestConcurrentUse(t *testing.T) {
	d := mustParse(t, bodyDoc, "")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op := d.Operations[i%len(d.Operations)]
			op.Parameters()
			op.BodySchema()
			_, _ = op.BuildRequest(t.Context(), "", map[string]any{"id": 1, "name": "x"}, nil)
		}()
	}
	wg.Wait()
}

func TestPathDotSegmentsAndHeaderControlsRefused(t *testing.T) {
	doc, err := Parse([]byte(`openapi: 3.0.3
info: {title: t, version: "1"}
servers: [{url: "https://api.example.com/base"}]
paths:
  /items/{id}:
    get:
      operationId: getItem
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {name: X-Note, in: header, schema: {type: string}}
      responses: {"200": {description: ok}}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	op, _ := doc.Operation("getItem")
	for _, args := range []map[string]any{
		{"id": ".."}, {"id": "."}, {"id": ""},
		{"id": "1", "X-Note": "a\x7fb"}, {"id": "1", "X-Note": "a\x01b"}, {"id": "1", "X-Note": "a\nb"},
	} {
		_, err := op.BuildRequest(context.Background(), "", args, nil)
		var ae *ArgumentsError
		if !errors.As(err, &ae) {
			t.Errorf("%v: want an ArgumentsError, got %v", args, err)
		}
	}
	req, err := op.BuildRequest(context.Background(), "", map[string]any{"id": "...", "X-Note": "tab\tok"}, nil)
	if err != nil || req.URL.EscapedPath() != "/base/items/..." {
		t.Fatalf("three dots are a name, not a climb: %v %v", req, err)
	}
}
