package openapi

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// mustParse parses a document that must import.
func mustParse(t testing.TB, doc, serverURL string) *Document {
	t.Helper()
	d, err := Parse([]byte(doc), serverURL)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

// problemsOf parses a document that must fail and returns its problems.
func problemsOf(t *testing.T, doc, serverURL string) []string {
	t.Helper()
	d, err := Parse([]byte(doc), serverURL)
	if err == nil {
		t.Fatalf("Parse succeeded (%d operations), want a SchemaError", len(d.Operations))
	}
	var se *SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("error %T %v, want *SchemaError", err, err)
	}
	if len(se.Problems) == 0 {
		t.Fatal("SchemaError without problems")
	}
	return se.Problems
}

const minimalOps = `
paths:
  /pets:
    get:
      operationId: listPets
      responses:
        "200": {description: ok}
`

func TestParseServers(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		override string
		want     string   // ServerURL when it imports
		problems []string // else
	}{
		{
			name: "absolute server, trailing slash trimmed",
			doc:  "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nservers: [{url: 'https://API.example.com/v1/'}]\n" + minimalOps,
			want: "https://api.example.com/v1",
		},
		{
			name:     "no servers (Q27)",
			doc:      "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n" + minimalOps,
			problems: []string{`servers: none declared; set "server_url"`},
		},
		{
			name:     "relative server (Q27)",
			doc:      "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nservers: [{url: /api/v3}]\n" + minimalOps,
			problems: []string{`servers[0].url "/api/v3" is relative; set "server_url"`},
		},
		{
			name:     "relative server with override",
			doc:      "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nservers: [{url: /api/v3}]\n" + minimalOps,
			override: "https://petstore.example.com/api/v3/",
			want:     "https://petstore.example.com/api/v3",
		},
		{
			name:     "override wins over an absolute server",
			doc:      "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nservers: [{url: 'https://a.example.com'}]\n" + minimalOps,
			override: "http://b.example.com:8080/x",
			want:     "http://b.example.com:8080/x",
		},
		{
			name: "server variables take their defaults (Q28)",
			doc: `openapi: 3.0.3
info: {title: t, version: '1'}
servers:
  - url: 'https://{region}.api.example.com/{version}'
    variables:
      region: {default: eu, enum: [eu, us]}
      version: {default: v2}
` + minimalOps,
			want: "https://eu.api.example.com/v2",
		},
		{
			name: "server variable without default",
			doc: `openapi: 3.0.3
info: {title: t, version: '1'}
servers:
  - url: 'https://{region}.api.example.com/{version}'
    variables:
      region: {enum: [eu, us]}
` + minimalOps,
			problems: []string{
				`servers[0].variables.region: no default; set "server_url"`,
				`servers[0].url: variable {version} is not declared; set "server_url"`,
			},
		},
		{
			name:     "placeholder host",
			doc:      "openapi: 3.1.0\ninfo: {title: t, version: '1'}\nservers: [{url: 'https://<subdomain>.my.salesforce.com/services'}]\n" + minimalOps,
			problems: []string{`servers[0].url "https://<subdomain>.my.salesforce.com/services" cannot be used (it contains a placeholder or invalid characters); set "server_url"`},
		},
		{
			name:     "placeholder host with override",
			doc:      "openapi: 3.1.0\ninfo: {title: t, version: '1'}\nservers: [{url: 'https://<subdomain>.my.salesforce.com/services'}]\n" + minimalOps,
			override: "https://acme.my.salesforce.com/services",
			want:     "https://acme.my.salesforce.com/services",
		},
		{
			name:     "override must be absolute",
			doc:      "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n" + minimalOps,
			override: "/api",
			problems: []string{`server_url "/api" must be an absolute http(s) URL: it is relative`},
		},
		{
			name:     "override must be http(s)",
			doc:      "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n" + minimalOps,
			override: "ftp://example.com",
			problems: []string{`server_url "ftp://example.com" must be an absolute http(s) URL: the scheme is not http or https`},
		},
		{
			name: "swagger 2.0 host, basePath and schemes",
			doc:  "swagger: '2.0'\ninfo: {title: t, version: '1'}\nhost: api.uber.com\nbasePath: /v1\nschemes: [http, https]\n" + minimalOps,
			want: "https://api.uber.com/v1",
		},
		{
			name: "swagger 2.0 http only",
			doc:  "swagger: '2.0'\ninfo: {title: t, version: '1'}\nhost: petstore.swagger.io\nbasePath: /v1\nschemes: [http]\n" + minimalOps,
			want: "http://petstore.swagger.io/v1",
		},
		{
			name:     "swagger 2.0 without host",
			doc:      "swagger: '2.0'\ninfo: {title: t, version: '1'}\nbasePath: /v1\n" + minimalOps,
			problems: []string{`host: none declared; set "server_url"`},
		},
		{
			name:     "swagger 2.0 without host, override",
			doc:      "swagger: '2.0'\ninfo: {title: t, version: '1'}\nbasePath: /v1\n" + minimalOps,
			override: "https://example.com/v1",
			want:     "https://example.com/v1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.problems != nil {
				got := problemsOf(t, tt.doc, tt.override)
				if !reflect.DeepEqual(got, tt.problems) {
					t.Errorf("problems\n got %q\nwant %q", got, tt.problems)
				}
				return
			}
			d := mustParse(t, tt.doc, tt.override)
			if d.ServerURL != tt.want {
				t.Errorf("ServerURL = %q, want %q", d.ServerURL, tt.want)
			}
			for _, op := range d.Operations {
				if op.ServerURL != tt.want {
					t.Errorf("%s ServerURL = %q, want %q", op.ID, op.ServerURL, tt.want)
				}
			}
		})
	}
}

func TestDomain(t *testing.T) {
	d := mustParse(t, "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nservers: [{url: 'https://API.Example.com:8443/v1'}]\n"+minimalOps, "")
	if got := d.Domain(); got != "api.example.com" {
		t.Errorf("Domain = %q", got)
	}
}

func TestOperationLevelServers(t *testing.T) {
	doc := `openapi: 3.0.2
info: {title: t, version: '1'}
servers: [{url: 'https://api.box.com/2.0'}]
paths:
  /files/content:
    servers: [{url: 'https://upload.box.com/api/2.0'}]
    post:
      operationId: upload
      responses: {"200": {description: ok}}
  /files:
    get:
      operationId: list
      servers: [{url: /relative-is-ignored}]
      responses: {"200": {description: ok}}
`
	d := mustParse(t, doc, "")
	up, _ := d.Operation("upload")
	list, _ := d.Operation("list")
	if up.ServerURL != "https://upload.box.com/api/2.0" || list.ServerURL != "https://api.box.com/2.0" {
		t.Errorf("ServerURLs %q %q", up.ServerURL, list.ServerURL)
	}
	d = mustParse(t, doc, "https://proxy.example.com")
	up, _ = d.Operation("upload")
	if up.ServerURL != "https://proxy.example.com" {
		t.Errorf("override did not win: %q", up.ServerURL)
	}
}

func TestParseReportsAllProblemsAtOnce(t *testing.T) {
	doc := `openapi: 3.0.0
info: {title: t, version: '1'}
servers: [{url: /v1}]
paths:
  /pets/{id}:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Nope'}
    x-other: {$ref: '#/not/checked/in/extensions'}
webhooks: {}
components:
  schemas:
    Self: {$ref: '#/components/schemas/Self'}
    Ext: {$ref: 'other.yaml#/Pet'}
`
	got := problemsOf(t, doc, "")
	want := []string{
		`paths./pets/{id}.get.responses.200.content.application/json.schema: $ref "#/components/schemas/Nope" cannot be resolved`,
		`components.schemas.Self: $ref "#/components/schemas/Self" refers to itself`,
		`components.schemas.Ext: $ref "other.yaml#/Pet" points outside the document; external references are not supported`,
		`servers[0].url "/v1" is relative; set "server_url"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems\n got %q\nwant %q", got, want)
	}
	if err := (&SchemaError{Problems: want}); !strings.Contains(err.Error(), want[0]) {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestParseNoOperations(t *testing.T) {
	// OAI webhook-example: 3.1, webhooks only.
	doc := `openapi: 3.1.0
info: {title: Webhook Example, version: 1.0.0}
webhooks:
  newPet:
    post:
      requestBody:
        content:
          application/json:
            schema: {type: object}
      responses:
        "200": {description: ok}
`
	got := problemsOf(t, doc, "https://example.com")
	if want := []string{"paths: no operations"}; !reflect.DeepEqual(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
}

func TestParseGarbage(t *testing.T) {
	for _, in := range []string{"", "   ", "hello", "[1,2]", "{}", "openapi: 2.5\n", "swagger: '1.2'\n", "{\"openapi\": ", "openapi: [3]\n", "a: b: c"} {
		_, err := Parse([]byte(in), "")
		var se *SchemaError
		if !errors.As(err, &se) || len(se.Problems) == 0 {
			t.Errorf("Parse(%q) = %v, want a SchemaError", in, err)
		}
	}
}

func TestRefCycles(t *testing.T) {
	// Q31: a tree and an A↔B pair import and render finitely; bare ref cycles are invalid.
	doc := `openapi: 3.0.0
info: {title: t, version: '1'}
servers: [{url: 'https://example.com'}]
paths:
  /nodes:
    post:
      operationId: createNode
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Node'}
      responses: {"200": {description: ok}}
components:
  schemas:
    Node:
      type: object
      properties:
        name: {type: string}
        children: {type: array, items: {$ref: '#/components/schemas/Node'}}
        a: {$ref: '#/components/schemas/A'}
    A: {type: object, properties: {b: {$ref: '#/components/schemas/B'}}}
    B: {type: object, properties: {a: {$ref: '#/components/schemas/A'}, n: {type: integer}}}
`
	d := mustParse(t, doc, "")
	op, _ := d.Operation("createNode")
	schema, ct, whole := op.BodySchema()
	if ct != "application/json" || whole {
		t.Fatalf("content type %q whole %v", ct, whole)
	}
	children := schema["properties"].(map[string]any)["children"].(map[string]any)
	if items := children["items"].(map[string]any); len(items) != 0 {
		t.Errorf("recursion not cut: items = %v", items)
	}
	// The validator follows the cycle to any depth.
	_, err := op.BuildRequest(t.Context(), "", map[string]any{
		"name":     "root",
		"children": []any{map[string]any{"children": []any{map[string]any{"name": 5}}}},
		"a":        map[string]any{"b": map[string]any{"a": map[string]any{"b": map[string]any{"n": "x"}}}},
	}, nil)
	assertProblems(t, err, []string{
		"a.b.a.b.n: must be integer, not string",
		"children[0].children[0].name: must be string, not number",
	})

	cycle := `openapi: 3.0.0
info: {title: t, version: '1'}
servers: [{url: 'https://example.com'}]
paths:
  /x:
    get:
      responses:
        "200":
          description: ok
          content: {application/json: {schema: {$ref: '#/components/schemas/A'}}}
components:
  schemas:
    A: {$ref: '#/components/schemas/B'}
    B: {$ref: '#/components/schemas/A', description: loops}
`
	want := []string{
		`components.schemas.A: $ref "#/components/schemas/B" is part of a reference cycle that never reaches a schema`,
		`components.schemas.B: $ref "#/components/schemas/A" is part of a reference cycle that never reaches a schema`,
	}
	if got := problemsOf(t, cycle, ""); !reflect.DeepEqual(got, want) {
		t.Errorf("problems\n got %q\nwant %q", got, want)
	}
}

func TestRefsAreNeverFetched(t *testing.T) {
	hit := make(chan struct{}, 1)
	srv := newCountingServer(t, hit)
	doc := `openapi: 3.0.0
info: {title: t, version: '1'}
servers: [{url: 'https://example.com'}]
paths:
  /x:
    get:
      parameters:
        - $ref: '` + srv + `/param.yaml'
        - $ref: '/etc/passwd'
      responses: {"200": {description: ok}}
`
	got := problemsOf(t, doc, "")
	if len(got) != 2 || !strings.Contains(got[0], "points outside the document") {
		t.Errorf("problems %q", got)
	}
	select {
	case <-hit:
		t.Error("Parse fetched an external reference")
	default:
	}
}

func TestUnquotedResponseCodes(t *testing.T) {
	// Q32: YAML reads 200: as an integer key.
	doc := `openapi: 3.0.0
info: {title: t, version: '1'}
servers: [{url: 'https://example.com'}]
paths:
  /report:
    get:
      operationId: report
      responses:
        200:
          description: ok
          content:
            text/csv: {schema: {type: string}}
        404:
          description: missing
`
	d := mustParse(t, doc, "")
	op, _ := d.Operation("report")
	req, err := op.BuildRequest(t.Context(), "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("Accept"); got != "text/csv" {
		t.Errorf("Accept = %q, want text/csv", got)
	}
}

func TestOpenAPI31(t *testing.T) {
	// Q33: webhooks, type arrays, numeric exclusiveMinimum, boolean schemas, const.
	doc := `openapi: 3.1.0
info: {title: t, version: '1'}
servers: [{url: 'https://example.com'}]
webhooks:
  ping:
    post:
      responses: {"200": {description: ok}}
paths:
  /items:
    get:
      operationId: listItems
      parameters:
        - {name: limit, in: query, schema: {type: [integer, "null"], exclusiveMinimum: 0, maximum: 100}}
        - {name: kind, in: query, schema: {const: book}}
        - {name: any, in: query, schema: true}
      responses: {"200": {description: ok}}
`
	d := mustParse(t, doc, "")
	if len(d.Operations) != 1 {
		t.Fatalf("%d operations, want 1 (webhooks are not operations)", len(d.Operations))
	}
	op := d.Operations[0]
	_, err := op.BuildRequest(t.Context(), "", map[string]any{"limit": 0.0, "kind": "film", "any": 1}, nil)
	assertProblems(t, err, []string{"kind: must be \"book\"", "limit: must be > 0"})
	req, err := op.BuildRequest(t.Context(), "", map[string]any{"limit": 100, "kind": "book"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.RawQuery; got != "limit=100&kind=book" {
		t.Errorf("query %q", got)
	}
	params := op.Parameters()
	if got := params[0].Schema["type"]; !reflect.DeepEqual(got, []any{"integer", "null"}) {
		t.Errorf("limit type %v", got)
	}
}

func TestOpenAPI30Dialect(t *testing.T) {
	doc := `openapi: 3.0.3
info: {title: t, version: '1'}
servers: [{url: 'https://example.com'}]
paths:
  /items:
    post:
      operationId: createItem
      parameters:
        - {name: min, in: query, schema: {type: number, minimum: 1, exclusiveMinimum: true}}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties:
                name: {type: string, nullable: true}
                color: {type: string, enum: [red, blue], nullable: true}
                owner: {$ref: '#/components/schemas/Owner', nullable: true}
                size: {type: integer, required: true}
                tags: {type: array, items: {type: string}, x-extension: 1}
      responses: {"201": {description: ok}}
components:
  schemas:
    Owner: {type: object, properties: {id: {type: integer}}}
`
	d := mustParse(t, doc, "")
	op, _ := d.Operation("createItem")
	if _, err := op.BuildRequest(t.Context(), "", map[string]any{"name": nil, "color": nil, "owner": nil, "min": 2}, nil); err != nil {
		t.Errorf("nullable values rejected: %v", err)
	}
	_, err := op.BuildRequest(t.Context(), "", map[string]any{"name": "x", "color": "green", "min": 1, "owner": map[string]any{"id": "7"}}, nil)
	assertProblems(t, err, []string{
		`color: must be one of "red", "blue", null`,
		"min: must be > 1",
		"owner.id: must be integer, not string",
	})
}

func TestFreeFormBodies(t *testing.T) {
	// Q34: objects without properties pass arguments through.
	for _, schema := range []string{
		"{type: object, additionalProperties: true}",
		"{type: object, properties: []}",
		"{type: object}",
	} {
		doc := `openapi: 3.0.0
info: {title: t, version: '1'}
servers: [{url: 'https://example.com'}]
paths:
  /things/{id}:
    put:
      operationId: putThing
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      requestBody:
        content:
          application/json:
            schema: ` + schema + `
      responses: {"200": {description: ok}}
`
		d := mustParse(t, doc, "")
		op, _ := d.Operation("putThing")
		req, err := op.BuildRequest(t.Context(), "", map[string]any{"id": "7", "color": "red", "nested": map[string]any{"a": 1}}, nil)
		if err != nil {
			t.Fatalf("%s: %v", schema, err)
		}
		if got := readBody(t, req); got != `{"color":"red","nested":{"a":1}}` {
			t.Errorf("%s: body %s", schema, got)
		}
	}
}

func TestOperationIDs(t *testing.T) {
	// Q30.
	doc := `openapi: 3.0.0
info: {title: t, version: '1'}
servers: [{url: 'https://example.com'}]
paths:
  /pets/{petId}:
    get:
      responses: {"200": {description: ok}}
    put:
      operationId: pets/get
      responses: {"200": {description: ok}}
    post:
      operationId: pets.create
      responses: {"200": {description: ok}}
    delete:
      operationId: pets_get
      responses: {"200": {description: ok}}
  /dup:
    get:
      operationId: dup
      responses: {"200": {description: ok}}
    post:
      operationId: dup
      responses: {"200": {description: ok}}
    patch:
      operationId: find pet by id
      responses: {"200": {description: ok}}
  /files/{file_id}#add_shared_link:
    put:
      operationId: put_files_id#add_shared_link
      responses: {"200": {description: ok}}
  /long:
    get:
      operationId: ` + strings.Repeat("x", 70) + `
      responses: {"200": {description: ok}}
    post:
      operationId: ` + strings.Repeat("x", 64) + `
      responses: {"200": {description: ok}}
`
	want := []string{
		"get_pets_petId", "pets_get_2", "pets_create", "pets_get",
		"dup", "dup_2", "find_pet_by_id",
		"put_files_id_add_shared_link",
		strings.Repeat("x", 62) + "_2", strings.Repeat("x", 64),
	}
	for range 3 { // stable across parses
		d := mustParse(t, doc, "")
		var got []string
		for _, op := range d.Operations {
			got = append(got, op.ID)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ids\n got %q\nwant %q", got, want)
		}
	}
	d := mustParse(t, doc, "")
	if op, ok := d.Operation("pets.create"); !ok || op.ID != "pets_create" {
		t.Error("lookup by the original operationId failed")
	}
	if _, ok := d.Operation("dup_3"); ok {
		t.Error("found a missing id")
	}
}

func TestOperationOrderAndConsequential(t *testing.T) {
	doc := `openapi: 3.0.0
info: {title: t, version: '1'}
servers: [{url: 'https://example.com'}]
paths:
  /b:
    trace: {operationId: b_trace, responses: {"200": {description: ok}}}
    patch: {operationId: b_patch, responses: {"200": {description: ok}}}
    head: {operationId: b_head, responses: {"200": {description: ok}}}
    options: {operationId: b_options, responses: {"200": {description: ok}}}
    delete: {operationId: b_delete, responses: {"200": {description: ok}}}
    post: {operationId: b_post, x-openai-isConsequential: false, responses: {"200": {description: ok}}}
    put: {operationId: b_put, responses: {"200": {description: ok}}}
    get: {operationId: b_get, responses: {"200": {description: ok}}}
  /a:
    get: {operationId: a_get, x-openai-isConsequential: true, responses: {"200": {description: ok}}}
    parameters: []
`
	d := mustParse(t, doc, "")
	type row struct {
		id            string
		method        string
		consequential bool
	}
	var got []row
	for _, op := range d.Operations {
		got = append(got, row{op.ID, op.Method, op.Consequential})
	}
	want := []row{
		{"b_get", "GET", false}, {"b_put", "PUT", true}, {"b_post", "POST", false}, {"b_delete", "DELETE", true},
		{"b_options", "OPTIONS", false}, {"b_head", "HEAD", false}, {"b_patch", "PATCH", true}, {"b_trace", "TRACE", false},
		{"a_get", "GET", true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("operations\n got %v\nwant %v", got, want)
	}
}

func TestSecurity(t *testing.T) {
	// Q25: keys declared in the document, root security overridden per operation.
	doc := `openapi: 3.0.0
info: {title: t, version: '1'}
servers: [{url: 'https://example.com'}]
security: [{headerKey: []}]
paths:
  /root:
    get: {operationId: usesRoot, responses: {"200": {description: ok}}}
  /query:
    get:
      operationId: usesQuery
      security: [{bearer: []}, {queryKey: []}]
      responses: {"200": {description: ok}}
  /open:
    get: {operationId: open, security: [], responses: {"200": {description: ok}}}
  /anonymous:
    get: {operationId: anonymous, security: [{}], responses: {"200": {description: ok}}}
  /optional:
    get: {operationId: optional, security: [{}, {cookieKey: []}], responses: {"200": {description: ok}}}
  /oauth:
    get: {operationId: oauth, security: [{oauth: [read, write]}, {undefinedScheme: []}], responses: {"200": {description: ok}}}
components:
  securitySchemes:
    headerKey: {type: apiKey, in: header, name: X-API-Key}
    queryKey: {type: apiKey, in: query, name: api_key}
    cookieKey: {type: apiKey, in: cookie, name: session}
    bearer: {type: http, scheme: Bearer}
    oauth:
      type: oauth2
      flows:
        authorizationCode:
          authorizationUrl: https://example.com/authorize
          tokenUrl: https://example.com/token
          scopes: {read: r, write: w}
`
	d := mustParse(t, doc, "")
	tests := []struct {
		id         string
		cred       Credential
		declared   bool
		noSecurity bool
	}{
		{"usesRoot", Credential{"header", "X-API-Key"}, true, false},
		{"usesQuery", Credential{"query", "api_key"}, true, false},
		{"open", Credential{}, false, true},
		{"anonymous", Credential{}, false, true},
		{"optional", Credential{"cookie", "session"}, true, false},
		{"oauth", Credential{}, false, false},
	}
	for _, tt := range tests {
		op, _ := d.Operation(tt.id)
		c, declared := op.APIKeyPlacement()
		if c != tt.cred || declared != tt.declared || op.NoSecurity() != tt.noSecurity {
			t.Errorf("%s: APIKeyPlacement = %v, %v; NoSecurity = %v", tt.id, c, declared, op.NoSecurity())
		}
	}
	op, _ := d.Operation("oauth")
	want := []SecurityRequirement{
		{Schemes: []RequiredScheme{{SecurityScheme: SecurityScheme{Name: "oauth", Type: "oauth2",
			AuthorizationURL: "https://example.com/authorize", TokenURL: "https://example.com/token",
			Scopes: []string{"read", "write"}}, Scopes: []string{"read", "write"}}}},
		{Schemes: []RequiredScheme{{SecurityScheme: SecurityScheme{Name: "undefinedScheme"}}}},
	}
	if !reflect.DeepEqual(op.Security, want) {
		t.Errorf("Security\n got %+v\nwant %+v", op.Security, want)
	}
	op, _ = d.Operation("usesQuery")
	if s := op.Security[0].Schemes[0]; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("bearer scheme %+v", s)
	}
	if len(d.SecuritySchemes) != 5 {
		t.Errorf("%d security schemes", len(d.SecuritySchemes))
	}
}

func TestSecuritySwagger2(t *testing.T) {
	doc := `swagger: "2.0"
info: {title: t, version: '1'}
host: api.example.com
securityDefinitions:
  key: {type: apiKey, in: query, name: server_token}
  basic: {type: basic}
security: [{key: []}]
paths:
  /a:
    get: {operationId: a, responses: {"200": {description: ok}}}
  /b:
    get: {operationId: b, security: [], responses: {"200": {description: ok}}}
  /c:
    get: {operationId: c, security: [{basic: []}], responses: {"200": {description: ok}}}
`
	d := mustParse(t, doc, "")
	a, _ := d.Operation("a")
	b, _ := d.Operation("b")
	c, _ := d.Operation("c")
	if cred, ok := a.APIKeyPlacement(); !ok || cred != (Credential{"query", "server_token"}) {
		t.Errorf("a: %v %v", cred, ok)
	}
	if _, ok := b.APIKeyPlacement(); ok || !b.NoSecurity() {
		t.Error("b: security: [] not honoured")
	}
	if s := c.Security[0].Schemes[0]; s.Type != "http" || s.Scheme != "basic" || c.NoSecurity() {
		t.Errorf("c: %+v", s)
	}
}

func TestParametersAndBodySchema(t *testing.T) {
	doc := `openapi: 3.0.0
info: {title: t, version: '1'}
servers: [{url: 'https://example.com'}]
paths:
  /pets/{petId}:
    parameters:
      - {name: petId, in: path, required: true, description: The pet, schema: {type: string}}
      - {name: verbose, in: query, schema: {type: boolean}}
    patch:
      operationId: updatePet
      parameters:
        - {name: verbose, in: query, required: true, schema: {type: integer}}
        - {name: X-Trace, in: header, schema: {type: string}}
        - {name: Authorization, in: header, schema: {type: string}}
        - {name: ghost, in: path, schema: {type: string}}
      requestBody:
        content:
          application/x-www-form-urlencoded:
            schema: {$ref: '#/components/schemas/Pet'}
          application/json:
            schema: {$ref: '#/components/schemas/Pet'}
      responses: {"200": {description: ok}}
components:
  schemas:
    Pet:
      allOf:
        - {$ref: '#/components/schemas/Base'}
        - type: object
          required: [name]
          properties:
            name: {type: string}
    Base: {type: object, properties: {id: {type: integer, readOnly: true}}}
`
	d := mustParse(t, doc, "")
	op, _ := d.Operation("updatePet")
	got := op.Parameters()
	want := []ParamInfo{
		{Name: "petId", In: "path", Required: true, Description: "The pet", Schema: map[string]any{"type": "string", "description": "The pet"}},
		{Name: "verbose", In: "query", Required: true, Schema: map[string]any{"type": "integer"}},
		{Name: "X-Trace", In: "header", Schema: map[string]any{"type": "string"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parameters\n got %+v\nwant %+v", got, want)
	}
	got[0].Schema["type"] = "mutated"
	if op.Parameters()[0].Schema["type"] != "string" {
		t.Error("Parameters shares its maps with callers")
	}
	schema, ct, whole := op.BodySchema()
	if ct != "application/json" || whole || schema["allOf"] == nil {
		t.Errorf("BodySchema = %v, %q, %v", schema, ct, whole)
	}
	d = mustParse(t, requestDoc, "")
	if s, ct, _ := d.Operations[0].BodySchema(); s != nil || ct != "" {
		t.Error("an operation without body has a body schema")
	}
}
