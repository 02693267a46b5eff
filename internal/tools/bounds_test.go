package tools

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/actiongate/actiongate/internal/openapi"
)

// schemaBomb is a small document whose argument schemas expand enormously: each
// of nOps operations takes S0, and S0…S10 each have eight properties of the
// next schema, so one rendering is 8^11 objects unless something stops it.
func schemaBomb(nOps int) []byte {
	var b strings.Builder
	b.WriteString("openapi: 3.0.3\ninfo: {title: Bomb, version: \"1\"}\nservers: [{url: \"https://bomb.example.com\"}]\npaths:\n")
	for i := 0; i < nOps; i++ {
		fmt.Fprintf(&b, "  /op%d:\n    post:\n      operationId: op%d\n      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/S0'}}}}\n", i, i)
	}
	b.WriteString("components:\n  schemas:\n")
	for s := 0; s < 12; s++ {
		fmt.Fprintf(&b, "    S%d:\n      type: object\n      properties:\n", s)
		for p := 0; p < 8; p++ {
			if s == 11 {
				fmt.Fprintf(&b, "        p%d: {type: string}\n", p)
			} else {
				fmt.Fprintf(&b, "        p%d: {$ref: '#/components/schemas/S%d'}\n", p, s+1)
			}
		}
	}
	return []byte(b.String())
}

// TestToolsBoundedOnSchemaBomb: a 280 KB document of 2,000 operations whose
// schemas reference one another used to take gigabytes to list as tools. Now
// the action's tools are rendered within bounds: the tools that do not fit
// say so and accept any object (invoke still checks the full schema).
func TestToolsBoundedOnSchemaBomb(t *testing.T) {
	data := schemaBomb(2000)
	doc, err := openapi.Parse(data, "")
	if err != nil {
		t.Fatal(err)
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	ts := Generate(doc, Action{ID: "act_bomb", Name: "bomb"})
	AssignNames(ts)
	runtime.ReadMemStats(&m1)
	if len(ts) != 2000 {
		t.Fatalf("%d tools, want 2000 (every operation stays a tool)", len(ts))
	}
	out, err := json.Marshal(OpenAI(ts))
	if err != nil {
		t.Fatal(err)
	}
	alloc := m1.TotalAlloc - m0.TotalAlloc
	t.Logf("document %d KB: generating allocated %d MB; OpenAI tools %d KB", len(data)>>10, alloc>>20, len(out)>>10)
	if alloc > 1<<30 {
		t.Errorf("generating tools allocated %d MB; the bounds should keep it far lower", alloc>>20)
	}
	if len(out) > MaxActionSchemaBytes+len(ts)*4096 {
		t.Errorf("the tool list is %d bytes, beyond the action's schema bound", len(out))
	}
	omitted := 0
	for _, tl := range ts {
		if !tl.SchemaOmitted {
			continue
		}
		omitted++
		if !strings.HasPrefix(tl.Description, omittedNote) {
			t.Fatalf("%s: omitted schema not said in the description: %q", tl.Name, tl.Description)
		}
		if tl.Parameters["additionalProperties"] != true || tl.Parameters["type"] != "object" {
			t.Fatalf("%s: omitted schema should accept any object: %v", tl.Name, tl.Parameters)
		}
	}
	if omitted == 0 {
		t.Fatal("no tool's schema was omitted: the bounds did not apply")
	}
	// Invoke checks the arguments against the whole schema, bounds or not.
	op, _ := doc.Operation("op1999")
	if _, err := op.BuildRequest(t.Context(), op.ServerURL, map[string]any{"p0": 7}, nil); err == nil || !strings.Contains(err.Error(), "p0: must be object") {
		t.Errorf("a wrong argument of an omitted schema: %v, want p0 named as not an object", err)
	}
}
