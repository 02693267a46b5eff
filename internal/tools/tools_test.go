package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/actiongate/actiongate/internal/openapi"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// specsDir finds the shared corpus of real documents: $ACTIONGATE_SPECS, else shared/specs
// beside the repository.
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

// corpus parses every document of the corpus, with a server URL override for those that need
// one, as an action named after the file.
type corpusDoc struct {
	file string
	doc  *openapi.Document
}

var corpus struct {
	once sync.Once
	docs []corpusDoc
	errs []string
}

// loadCorpus parses the corpus once for all the tests that use it.
func loadCorpus(t *testing.T) []corpusDoc {
	t.Helper()
	dir := specsDir(t)
	corpus.once.Do(func() { corpus.docs, corpus.errs = parseCorpus(dir) })
	for _, e := range corpus.errs {
		t.Error(e)
	}
	if len(corpus.docs) < 35 {
		t.Fatalf("only %d documents of the corpus import", len(corpus.docs))
	}
	return corpus.docs
}

func parseCorpus(dir string) ([]corpusDoc, []string) {
	var errs []string
	var out []corpusDoc
	for _, sub := range []string{"public", "gpt-actions"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return nil, []string{err.Error()}
		}
		for _, e := range entries {
			if e.IsDir() || e.Name() == "manifest.json" {
				continue
			}
			rel := sub + "/" + e.Name()
			data, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil {
				return nil, []string{err.Error()}
			}
			doc, err := openapi.Parse(data, "")
			if err != nil {
				doc, err = openapi.Parse(data, "https://override.example.com/base")
			}
			if err != nil {
				var se *openapi.SchemaError
				if errors.As(err, &se) && rel == "public/OAI__webhook-example.yaml" {
					continue // webhooks only: no operations, no tools
				}
				errs = append(errs, fmt.Sprintf("%s: does not import: %v", rel, err))
				continue
			}
			out = append(out, corpusDoc{rel, doc})
		}
	}
	return out, errs
}

// actionName names a corpus document's action like a builder would: "twilio api v2010".
func actionName(file string) string {
	base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".json"), ".yaml")
	if _, after, ok := strings.Cut(base, "__"); ok {
		base = after
	}
	return strings.NewReplacer("_", " ", "-", " ").Replace(base)
}

// compile compiles a schema the way a strict consumer would: through JSON, as draft 2020-12.
func compile(t *testing.T, where string, schema any) *jsonschema.Schema {
	t.Helper()
	raw, err := json.Marshal(schema)
	if err != nil {
		t.Errorf("%s: not JSON: %v", where, err)
		return nil
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return nil
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("urn:tool", v); err != nil {
		t.Errorf("%s: %v", where, err)
		return nil
	}
	s, err := c.Compile("urn:tool")
	if err != nil {
		t.Errorf("%s: does not compile: %v", where, err)
	}
	return s
}

// TestToolsCorpus generates the tools of every document in the corpus together, as if each
// were an action of one gateway: every parameters schema is valid JSON Schema, every name is
// valid and unique across all of them, descriptions keep GPT's limits.
func TestToolsCorpus(t *testing.T) {
	docs := loadCorpus(t)
	var all []Tool
	for i, d := range docs {
		all = append(all, Generate(d.doc, Action{ID: fmt.Sprintf("act_%02d", i), Name: actionName(d.file)})...)
	}
	AssignNames(all)
	if len(all) < 1500 {
		t.Fatalf("only %d tools", len(all))
	}
	seen := map[string]string{}
	for _, tool := range all {
		where := tool.ActionName + " " + tool.Operation
		if !ValidName.MatchString(tool.Name) {
			t.Errorf("%s: invalid name %q", where, tool.Name)
		}
		if prev, dup := seen[tool.Name]; dup {
			t.Errorf("%s: name %q already used by %s", where, tool.Name, prev)
		}
		seen[tool.Name] = where
		checkTool(t, where, tool)
	}
	t.Logf("%d documents, %d tools", len(docs), len(all))
}

func checkTool(t *testing.T, where string, tool Tool) {
	t.Helper()
	p := tool.Parameters
	if p["type"] != "object" {
		t.Errorf("%s: parameters type %v", where, p["type"])
	}
	props, ok := p["properties"].(map[string]any)
	if !ok {
		t.Fatalf("%s: no properties", where)
	}
	req, _ := p["required"].([]any)
	for _, r := range req {
		if _, ok := props[r.(string)]; !ok {
			t.Errorf("%s: required %v is not a property", where, r)
		}
	}
	compile(t, where+" parameters", p)
	m := tool.MCP()
	if tool.Consequential { // else the same schema
		compile(t, where+" mcp inputSchema", m.InputSchema)
	}
	for _, d := range []string{tool.FullDescription(), m.Description} {
		if n := len([]rune(d)); n > MaxDescription || n == 0 {
			t.Errorf("%s: description of %d characters", where, n)
		}
	}
	for name, s := range props {
		walk(s, func(m map[string]any) {
			if d, ok := m["description"].(string); ok && len([]rune(d)) > MaxParameterDescription {
				t.Errorf("%s: argument %s: description of %d characters", where, name, len([]rune(d)))
			}
		})
	}
}

// TestToolsMatchInvoke checks, operation by operation over the corpus, that a tool's schema says
// what BuildRequest does: every property is an argument it takes, an unknown argument is refused
// exactly when the schema forbids additional properties, and calling without arguments
// reports exactly the required ones as missing.
func TestToolsMatchInvoke(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole corpus")
	}
	for _, d := range loadCorpus(t) {
		for _, op := range d.doc.Operations {
			where := d.file + " " + op.ID
			p := Parameters(op, nil)
			props := p["properties"].(map[string]any)
			problems := func(args map[string]any) []string {
				_, err := op.BuildRequest(context.Background(), "", args, nil)
				var ae *openapi.ArgumentsError
				if errors.As(err, &ae) {
					return ae.Problems
				}
				if err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				return nil
			}
			args := map[string]any{}
			for name := range props {
				args[name] = "x"
			}
			args["zz_not_an_argument"] = "x"
			unknown := map[string]bool{}
			for _, pr := range problems(args) {
				if name, ok := strings.CutSuffix(pr, ": unknown argument"); ok {
					unknown[name] = true
				}
			}
			for name := range props {
				if unknown[name] {
					t.Errorf("%s: property %q is refused as an unknown argument", where, name)
				}
			}
			if forbid := p["additionalProperties"] == false; forbid != unknown["zz_not_an_argument"] {
				t.Errorf("%s: additionalProperties false is %v, invoke refuses unknown arguments: %v", where, forbid, unknown["zz_not_an_argument"])
			}

			var missing []string
			for _, pr := range problems(map[string]any{}) {
				if i := strings.Index(pr, ": required "); i > 0 && strings.HasSuffix(pr, " missing") {
					missing = append(missing, pr[:i])
				}
			}
			var want []string
			req, _ := p["required"].([]any)
			for _, r := range req {
				want = append(want, r.(string))
			}
			sort.Strings(missing)
			sort.Strings(want)
			if strings.Join(missing, ",") != strings.Join(want, ",") {
				t.Errorf("%s: required %q, invoke misses %q", where, want, missing)
			}
		}
	}
}

// TestToolsGolden pins the tool output of a few small documents (go test -update rewrites).
func TestToolsGolden(t *testing.T) {
	for _, file := range []string{
		"public/OAI__petstore.yaml",
		"public/OAI__petstore-swagger2.json",
		"public/OAI__petstore-expanded.json",
		"gpt-actions/github.yaml",
	} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(specsDir(t), file))
			if err != nil {
				t.Fatal(err)
			}
			doc, err := openapi.Parse(data, "")
			if err != nil {
				t.Fatal(err)
			}
			ts := Generate(doc, Action{ID: "act_golden", Name: actionName(file)})
			AssignNames(ts)
			got, err := json.MarshalIndent(map[string]any{
				"openai": OpenAI(ts), "anthropic": Anthropic(ts), "mcp": MCP(ts),
			}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".json"), ".yaml")+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("tools differ from %s (go test -update rewrites it):\n%s", golden, firstDiff(string(got), string(want)))
			}
		})
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got %s\nwant %s", i+1, gl, wl)
		}
	}
	return ""
}

const notesDoc = `openapi: 3.0.3
info: {title: Notes, version: "1"}
servers: [{url: "https://notes.example.com/v1"}]
components:
  securitySchemes:
    key: {type: apiKey, in: query, name: api_key}
security: [{key: []}]
paths:
  /notes:
    get:
      operationId: listNotes
      summary: List notes
      description: "Lists the notes,\n\n newest first."
      parameters:
        - {name: limit, in: query, schema: {type: integer, maximum: 100, nullable: true}}
        - {name: api_key, in: query, schema: {type: string}}
        - {name: X-Trace, in: header, required: true, schema: {type: string}}
    post:
      operationId: createNote
      summary: Create a note.
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [text]
              properties:
                text: {type: string, description: The note's text.}
                confirmed: {type: boolean}
  /notes/{id}:
    delete:
      operationId: deleteNote
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    put:
      operationId: replaceNote
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      requestBody:
        content:
          application/json:
            schema: {type: array, items: {type: string}}
  /search:
    post:
      operationId: search
      x-openai-isConsequential: false
      requestBody:
        content:
          application/json:
            schema: {type: object, additionalProperties: {type: string}}
`

func notes(t *testing.T) *openapi.Document {
	t.Helper()
	doc, err := openapi.Parse([]byte(notesDoc), "")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func byOp(ts []Tool) map[string]Tool {
	m := map[string]Tool{}
	for _, t := range ts {
		m[t.Operation] = t
	}
	return m
}

func TestToolsParameters(t *testing.T) {
	strip := func(*openapi.Operation) []openapi.Credential {
		return []openapi.Credential{{In: "query", Name: "api_key"}, {In: "header", Name: "x-trace"}}
	}
	ts := byOp(Generate(notes(t), Action{ID: "act_1", Name: "Notes", Strip: strip}))

	list := ts["listNotes"]
	props := list.Parameters["properties"].(map[string]any)
	if _, ok := props["api_key"]; ok {
		t.Error("the credential's query parameter is offered as an argument")
	}
	if _, ok := props["X-Trace"]; ok {
		t.Error("a stripped header (matched without case) is offered as an argument")
	}
	if got := props["limit"].(map[string]any)["type"]; fmt.Sprint(got) != "[integer null]" {
		t.Errorf("nullable limit: type %v, want the 3.1 type list", got)
	}
	if list.Parameters["required"] != nil {
		t.Errorf("required %v", list.Parameters["required"])
	}
	if list.Description != "List notes. Lists the notes, newest first." {
		t.Errorf("description %q", list.Description)
	}
	if list.Parameters["additionalProperties"] != false {
		t.Error("unknown arguments are not forbidden")
	}

	create := ts["createNote"]
	props = create.Parameters["properties"].(map[string]any)
	if props["text"] == nil || fmt.Sprint(create.Parameters["required"]) != "[text]" {
		t.Errorf("flat body: %v", create.Parameters)
	}
	if create.Description != "Create a note." {
		t.Errorf("description %q", create.Description)
	}
	if got := create.FullDescription(); got != "Create a note. "+confirmNote {
		t.Errorf("consequential description %q", got)
	}
	m := create.MCP()
	mprops := m.InputSchema["properties"].(map[string]any)
	if create.ConfirmArgument() != "actiongate_confirmed" || mprops["actiongate_confirmed"] == nil || mprops["confirmed"] == nil {
		t.Errorf("an operation argument named confirmed: confirm argument %q, properties %v", create.ConfirmArgument(), mprops)
	}
	if _, ok := props["actiongate_confirmed"]; ok {
		t.Error("the MCP confirm argument leaked into the shared parameters")
	}
	if !strings.HasSuffix(m.Description, `call with "actiongate_confirmed": true.`) {
		t.Errorf("mcp description %q", m.Description)
	}
	if m.Annotations.ReadOnlyHint || *m.Annotations.DestructiveHint || m.Annotations.IdempotentHint {
		t.Errorf("POST annotations %+v", m.Annotations)
	}

	del := ts["deleteNote"]
	if del.Description != "DELETE /notes/{id}" {
		t.Errorf("fallback description %q", del.Description)
	}
	if a := del.MCP().Annotations; a.ReadOnlyHint || !*a.DestructiveHint || !a.IdempotentHint || !*a.OpenWorldHint {
		t.Errorf("DELETE annotations %+v", a)
	}
	if del.ConfirmArgument() != "confirmed" {
		t.Errorf("confirm argument %q", del.ConfirmArgument())
	}

	replace := ts["replaceNote"]
	props = replace.Parameters["properties"].(map[string]any)
	if body := props["requestBody"].(map[string]any); body["type"] != "array" || body["description"] != "The request body (application/json)." {
		t.Errorf("whole body: %v", body)
	}
	if fmt.Sprint(replace.Parameters["required"]) != "[id]" {
		t.Errorf("optional whole body: required %v", replace.Parameters["required"])
	}

	search := ts["search"]
	if a := search.MCP().Annotations; !a.ReadOnlyHint || a.DestructiveHint != nil {
		t.Errorf("non-consequential POST annotations %+v", a)
	}
	if ap, ok := search.Parameters["additionalProperties"].(map[string]any); !ok || ap["type"] != "string" {
		t.Errorf("free-form body: additionalProperties %v", search.Parameters["additionalProperties"])
	}
	if _, ok := search.MCP().InputSchema["properties"].(map[string]any)["confirmed"]; ok {
		t.Error("a non-consequential tool has a confirm argument")
	}
}

func TestToolsDescriptionLimits(t *testing.T) {
	long := strings.Repeat("word ", 400)
	doc, err := openapi.Parse([]byte(`openapi: 3.1.0
info: {title: Long, version: "1"}
servers: [{url: "https://long.example.com"}]
paths:
  /things:
    post:
      operationId: makeThing
      summary: "`+long+`"
      parameters:
        - name: q
          in: query
          description: "`+long+`"
          schema:
            type: object
            properties:
              description: {type: string, description: "`+long+`"}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	tool := Generate(doc, Action{ID: "a", Name: "Long"})[0]
	for _, d := range []string{tool.FullDescription(), tool.MCP().Description} {
		if n := len([]rune(d)); n > MaxDescription || n < MaxDescription-10 {
			t.Errorf("description of %d characters: %q", n, d)
		}
		if !strings.Contains(d, "… Changes data") {
			t.Errorf("the cut is not marked or the note is missing: %q", d)
		}
	}
	q := tool.Parameters["properties"].(map[string]any)["q"].(map[string]any)
	inner := q["properties"].(map[string]any)["description"].(map[string]any)
	for _, d := range []string{q["description"].(string), inner["description"].(string)} {
		if n := len([]rune(d)); n > MaxParameterDescription || !strings.HasSuffix(d, "…") {
			t.Errorf("parameter description of %d characters: %q", n, d[len(d)-20:])
		}
	}
}

func TestToolsNames(t *testing.T) {
	doc := notes(t)
	a := Generate(doc, Action{ID: "act_a", Name: "Notes"})
	b := Generate(doc, Action{ID: "act_b", Name: "notes!"}) // same prefix
	c := Generate(doc, Action{ID: "act_c", Name: "Ünïcode Ñotes — a very long action name indeed"})

	one := append([]Tool(nil), a...)
	AssignNames(one)
	if one[0].Name != "notes_listNotes" {
		t.Errorf("name %q", one[0].Name)
	}

	all := append(append(append([]Tool(nil), a...), b...), c...)
	AssignNames(all)
	seen := map[string]bool{}
	for _, tool := range all {
		if !ValidName.MatchString(tool.Name) || seen[tool.Name] {
			t.Errorf("invalid or duplicate name %q", tool.Name)
		}
		seen[tool.Name] = true
	}
	// The earlier action keeps its names; the later one's are suffixed with a hash.
	if all[0].Name != "notes_listNotes" || all[len(a)].Name != hashed("notes_listNotes", "act_b", "listNotes", 0) {
		t.Errorf("collision: %q, %q", all[0].Name, all[len(a)].Name)
	}
	if !strings.HasPrefix(all[2*len(a)].Name, "n_code_otes_a_very_long_") {
		t.Errorf("non-ASCII action name: %q", all[2*len(a)].Name)
	}

	// Stable: the same actions give the same names; adding one later renames nothing.
	again := append(append(append([]Tool(nil), a...), b...), c...)
	AssignNames(again)
	more := append(append([]Tool(nil), again...), Generate(doc, Action{ID: "act_d", Name: "Notes"})...)
	AssignNames(more)
	for i := range all {
		if again[i].Name != all[i].Name || more[i].Name != all[i].Name {
			t.Errorf("tool %d renamed: %q, %q, %q", i, all[i].Name, again[i].Name, more[i].Name)
		}
	}

	// Too long for 64 characters: cut, with a hash that tells operations apart.
	long := candidate("Action", "act_x", strings.Repeat("op", 30)+"A")
	long2 := candidate("Action", "act_x", strings.Repeat("op", 30)+"B")
	if len(long) != 64 || long == long2 || !ValidName.MatchString(long) {
		t.Errorf("long names %q, %q", long, long2)
	}
	if p := prefix("---"); p != "action" {
		t.Errorf("empty prefix %q", p)
	}
}
