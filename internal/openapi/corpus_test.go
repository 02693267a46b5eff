package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// specsDir finds the shared corpus of real documents: $ACTIONGATE_SPECS, else shared/specs
// beside the repository (../../../shared/specs from this package).
func specsDir(t testing.TB) string {
	if dir := os.Getenv("ACTIONGATE_SPECS"); dir != "" {
		return dir
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Skip("cannot locate the test file to find shared/specs")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "specs")
	if _, err := os.Stat(filepath.Join(dir, "public")); err != nil {
		t.Skipf("corpus not found at %s (set ACTIONGATE_SPECS): %v", dir, err)
	}
	return dir
}

func readSpec(t testing.TB, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(specsDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Documents that do not import as found, and exactly why. Those with a server problem import
// once a server URL is given; the webhook example has no operations at all.
var corpusFailures = map[string][]string{
	"public/OAI__api-with-examples.json": {`servers: none declared; set "server_url"`},
	"public/OAI__callback-example.json":  {`servers: none declared; set "server_url"`},
	"public/OAI__link-example.yaml":      {`servers: none declared; set "server_url"`},
	"public/OAI__non-oauth-scopes.yaml":  {`servers: none declared; set "server_url"`},
	"public/OAI__tictactoe.json":         {`servers: none declared; set "server_url"`},
	"public/OAI__webhook-example.yaml":   {`servers: none declared; set "server_url"`, "paths: no operations"},
	"gpt-actions/salesforce_gong__salesforce.yaml": {
		`servers[0].url "https://<subdomain>.my.salesforce.com/services/data/v59.0" cannot be used (it contains a placeholder or invalid characters); set "server_url"`,
	},
}

// The import rate is part of the contract: a change in these numbers is a regression (or an
// improvement to record here).
const (
	corpusDocuments        = 36
	corpusImported         = 29 // as found
	corpusImportedOverride = 35 // with a server URL override: all but the webhook-only example
)

func TestCorpus(t *testing.T) {
	dir := specsDir(t)
	manifestOps := map[string]int{}
	var manifest []struct {
		File       string `json:"file"`
		Operations *int   `json:"operations"`
	}
	if err := json.Unmarshal(readSpec(t, "public/manifest.json"), &manifest); err != nil {
		t.Fatal(err)
	}
	for _, m := range manifest {
		if m.Operations != nil {
			manifestOps["public/"+m.File] = *m.Operations
		}
	}

	var files []string
	for _, sub := range []string{"public", "gpt-actions"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() && e.Name() != "manifest.json" {
				files = append(files, sub+"/"+e.Name())
			}
		}
	}
	sort.Strings(files)

	var table strings.Builder
	fmt.Fprintf(&table, "\n%-48s %-8s %5s  %s\n", "file", "result", "ops", "problems")
	imported, importedOverride := 0, 0
	for _, f := range files {
		data := readSpec(t, f)
		doc, err := Parse(data, "")
		result, problems := "ok", ""
		if err != nil {
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Errorf("%s: error %T %v, want *SchemaError", f, err, err)
				continue
			}
			result, problems = "invalid", strings.Join(se.Problems, "; ")
			if want, ok := corpusFailures[f]; !ok {
				t.Errorf("%s: does not import: %q", f, se.Problems)
			} else if !equalStrings(se.Problems, want) {
				t.Errorf("%s: problems\n got %q\nwant %q", f, se.Problems, want)
			}
			// Documents whose only problem is the server import with an override.
			doc, err = Parse(data, "https://override.example.com/base")
			if err == nil {
				result = "override"
			}
		} else {
			imported++
			if _, ok := corpusFailures[f]; ok {
				t.Errorf("%s: imports, but is listed as failing", f)
			}
		}
		ops := 0
		if doc != nil {
			importedOverride++
			ops = len(doc.Operations)
			checkDocument(t, f, doc)
			if want, ok := manifestOps[f]; ok && want != ops {
				t.Errorf("%s: %d operations, manifest says %d", f, ops, want)
			}
		}
		fmt.Fprintf(&table, "%-48s %-8s %5d  %s\n", f, result, ops, problems)
	}
	t.Log(table.String())
	if len(files) != corpusDocuments || imported != corpusImported || importedOverride != corpusImportedOverride {
		t.Errorf("documents %d imported %d, with override %d; want %d, %d, %d",
			len(files), imported, importedOverride, corpusDocuments, corpusImported, corpusImportedOverride)
	}
}

// checkDocument checks what every imported document must offer: valid unique ids, schemas
// that render to finite JSON, validators that compile.
func checkDocument(t *testing.T, file string, doc *Document) {
	t.Helper()
	seen := map[string]bool{}
	for _, op := range doc.Operations {
		if !validID(op.ID) || seen[op.ID] {
			t.Errorf("%s: invalid or duplicate id %q", file, op.ID)
		}
		seen[op.ID] = true
		if got, ok := doc.Operation(op.ID); !ok || got != op {
			t.Errorf("%s: Operation(%q) does not find it", file, op.ID)
		}
		if !strings.HasPrefix(op.ServerURL, "http") {
			t.Errorf("%s %s: ServerURL %q", file, op.ID, op.ServerURL)
		}
		for _, p := range op.Parameters() {
			if _, err := json.Marshal(p.Schema); err != nil {
				t.Errorf("%s %s: parameter %s schema: %v", file, op.ID, p.Name, err)
			}
		}
		if s, _, _ := op.BodySchema(); s != nil {
			if _, err := json.Marshal(s); err != nil {
				t.Errorf("%s %s: body schema: %v", file, op.ID, err)
			}
		}
		if _, err := op.compiled(); err != nil {
			t.Errorf("%s %s: validator does not compile: %v", file, op.ID, err)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCorpusRequests builds requests for operations real users call, as the documents describe.
func TestCorpusRequests(t *testing.T) {
	type check struct {
		file, override, op string
		args               map[string]any
		strip              []Credential
		url, body, ct      string
	}
	checks := []check{
		{
			file: "public/swagger-api__petstore3.yaml", op: "findPetsByStatus",
			args: map[string]any{"status": "available"},
			url:  "https://petstore3.swagger.io/api/v3/pet/findByStatus?status=available",
		},
		{
			file: "public/swagger-api__petstore3.yaml", op: "updatePetWithForm",
			args: map[string]any{"petId": 5, "name": "Rex"},
			url:  "https://petstore3.swagger.io/api/v3/pet/5?name=Rex",
		},
		{
			file: "public/swagger-api__petstore3.yaml", op: "addPet",
			args: map[string]any{"name": "Rex", "photoUrls": []any{"u"}},
			url:  "https://petstore3.swagger.io/api/v3/pet", ct: "application/json",
			body: `{"name":"Rex","photoUrls":["u"]}`,
		},
		{
			file: "public/slackapi__slack-web-api.json", op: "chat_postMessage",
			args:  map[string]any{"token": "xoxb-model", "channel": "C1", "text": "hi"},
			strip: []Credential{{In: "header", Name: "token"}, {In: "header", Name: "Authorization"}},
			url:   "https://slack.com/api/chat.postMessage", ct: "application/x-www-form-urlencoded",
			body: "channel=C1&text=hi",
		},
		{
			file: "public/twilio__api_v2010.json", op: "CreateMessage",
			args: map[string]any{"AccountSid": "AC0123456789abcdef0123456789abcdef", "To": "+15551234567", "Body": "hello there"},
			url:  "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json", ct: "application/x-www-form-urlencoded",
			body: "Body=hello%20there&To=%2B15551234567",
		},
		{
			file: "public/sonallux__spotify-web-api.yaml", op: "search",
			args: map[string]any{"q": "remaster track:Doxy", "type": []any{"album", "track"}, "limit": 5},
			url:  "https://api.spotify.com/v1/search?q=remaster%20track%3ADoxy&type=album,track&limit=5",
		},
		{
			file: "public/openai__openai-api.yaml", op: "listModels",
			url: "https://api.openai.com/v1/models",
		},
		{
			file: "public/box__box-api.json", op: "get_files_id",
			args: map[string]any{"file_id": "12345", "fields": []any{"name", "size"}},
			url:  "https://api.box.com/2.0/files/12345?fields=name,size",
		},
		{
			file: "public/OAI__petstore-expanded.json", override: "https://petstore.example.com/v2", op: "find_pet_by_id",
			args: map[string]any{"id": 7},
			url:  "https://petstore.example.com/v2/pets/7",
		},
		{
			file: "gpt-actions/github.yaml", op: doc0(t, "gpt-actions/github.yaml"),
		},
	}
	for _, c := range checks {
		t.Run(c.file+"/"+c.op, func(t *testing.T) {
			doc, err := Parse(readSpec(t, c.file), c.override)
			if err != nil {
				t.Fatal(err)
			}
			op, ok := doc.Operation(c.op)
			if !ok {
				t.Fatalf("no operation %q", c.op)
			}
			req, err := op.BuildRequest(t.Context(), "", c.args, c.strip)
			if c.url == "" { // only: the operation exists and its id is usable
				var ae *ArgumentsError
				if err != nil && !errors.As(err, &ae) {
					t.Fatal(err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.URL.String() != c.url {
				t.Errorf("URL %s\nwant %s", req.URL, c.url)
			}
			if got := req.Header.Get("Content-Type"); got != c.ct {
				t.Errorf("Content-Type %q, want %q", got, c.ct)
			}
			if got := readBody(t, req); got != c.body {
				t.Errorf("body %s\nwant %s", got, c.body)
			}
		})
	}

	doc, err := Parse(readSpec(t, "public/swagger-api__petstore3.yaml"), "")
	if err != nil {
		t.Fatal(err)
	}
	op, _ := doc.Operation("getPetById")
	if c, ok := op.APIKeyPlacement(); !ok || c != (Credential{In: "header", Name: "api_key"}) || op.Consequential {
		t.Errorf("petstore3 getPetById: %v %v consequential=%v", c, ok, op.Consequential)
	}
}

// doc0 names the first operation of a corpus document.
func doc0(t *testing.T, file string) string {
	doc, err := Parse(readSpec(t, file), "")
	if err != nil {
		t.Fatal(err)
	}
	return doc.Operations[0].ID
}
