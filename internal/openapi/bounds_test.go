package openapi

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	yaml "github.com/pb33f/go-yaml"
)

// TestHostileBoundsStaySmall: a document's absurd numbers and long enum
// values, and arguments with many failing values, give errors of bounded size
// (a 1e999999 minimum once made each problem a million digits long).
func TestHostileBoundsStaySmall(t *testing.T) {
	long := strings.Repeat("x", 100_000)
	doc := `{"openapi":"3.0.0","info":{"title":"t","version":"1"},"servers":[{"url":"https://api.example.com"}],
"paths":{"/x":{"post":{"operationId":"x","parameters":[
  {"name":"q","in":"query","schema":{"type":"number","minimum":1e999999}},
  {"name":"r","in":"query","schema":{"type":"number","maximum":-1e999999}},
  {"name":"s","in":"query","schema":{"type":"string","enum":["` + long + `","b"]}},
  {"name":"t","in":"query","schema":{"type":"number","minimum":1.` + strings.Repeat("0", 100_000) + `1}}],
 "requestBody":{"content":{"application/json":{"schema":{"type":"object","properties":{
  "a":{"type":"array","items":{"type":"integer","minimum":1e999999}}}}}}},
 "responses":{"200":{"description":"ok"}}}}}}`
	d, err := Parse([]byte(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	op, _ := d.Operation("x")
	items := make([]any, 300)
	for i := range items {
		items[i] = 1
	}
	_, err = op.BuildRequest(t.Context(), "", map[string]any{"q": 5, "r": 5, "s": "c", "t": 0.5}, nil)
	var ae *ArgumentsError
	if !errors.As(err, &ae) {
		t.Fatalf("want an ArgumentsError, got %v", err)
	}
	text := strings.Join(ae.Problems, "\n")
	for _, want := range []string{"q: must be >= 1.7976931348623157e+308", "r: must be <= -1.7976931348623157e+308", "s: must be one of \"xxxx", "t: must be >= 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	if len(text) > 1000 {
		t.Errorf("errors of %d bytes:\n%s", len(text), text)
	}

	_, err = op.BuildRequest(t.Context(), "", map[string]any{"q": 5, "r": 5, "s": "c", "t": 0.5, "a": items}, nil)
	if !errors.As(err, &ae) {
		t.Fatalf("want an ArgumentsError, got %v", err)
	}
	if len(ae.Problems) != maxArgumentProblems+1 || ae.Problems[maxArgumentProblems] != "… and more problems not listed" {
		t.Errorf("%d problems, last %q", len(ae.Problems), ae.Problems[len(ae.Problems)-1])
	}
	for _, p := range ae.Problems {
		if len(p) > maxProblemText+len("…") {
			t.Errorf("a problem of %d bytes: %.80s…", len(p), p)
		}
	}
	text = strings.Join(ae.Problems, "\n")
	if len(text) > 20_000 {
		t.Errorf("errors of %d bytes", len(text))
	}

	// Too many values to validate at all.
	many := make([]any, MaxArgumentValues)
	_, err = op.BuildRequest(t.Context(), "", map[string]any{"a": many}, nil)
	if !errors.As(err, &ae) || len(ae.Problems) != 1 || !strings.Contains(ae.Problems[0], "more than 50000 values") {
		t.Fatalf("%d values: %v", MaxArgumentValues+1, err)
	}
}

func TestNumberText(t *testing.T) {
	for in, want := range map[string]string{
		"5":                            "5",
		"-0.25":                        "-0.25",
		"9007199254740993":             "9007199254740993", // exact as written
		"1e999999":                     "1.7976931348623157e+308",
		"-1e999999":                    "-1.7976931348623157e+308",
		"1e-999999":                    "0",
		"1." + strings.Repeat("0", 50): "1",
		"1_000":                        "1000",
	} {
		got, ok := number(scalar(in))
		if !ok || string(got) != want {
			t.Errorf("number(%.20s) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := number(scalar("abc")); ok {
		t.Error("abc is a number")
	}
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

// TestStructureChecks: what libopenapi's structural check found (it is
// skipped for its quadratic cost) is still found: duplicate keys at any depth,
// invalid JSON, a document that is not a mapping.
func TestStructureChecks(t *testing.T) {
	base := "openapi: 3.0.0\ninfo: {title: t, version: \"1\"}\nservers: [{url: \"https://a.example.com\"}]\npaths:\n  /x:\n    get:\n      operationId: x\n      responses: {\"200\": {description: ok}}\n"
	for doc, want := range map[string]string{
		base + "info: {title: u}\n":                                          `line 9: mapping key "info" already defined at line 2`,
		base + "x-a: {k: 1, k: 2}\n":                                         `line 9: mapping key "k" already defined at line 9`,
		base + "x-b: [{a: 1, a: 1}]\n":                                       `mapping key "a" already defined`,
		`{"openapi":"3.0.0","info":{"title":"t","version":"1"},"paths":{},}`: `invalid character '}'`,
		"- a\n- b\n": "not a JSON or YAML object",
	} {
		_, err := Parse([]byte(doc), "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.30q: %v, want %q", doc, err, want)
		}
	}
	if _, err := Parse([]byte(base+"x-c: {a: 1, b: 1}\nx-d: {a: 1}\n"), ""); err != nil {
		t.Errorf("no duplicates: %v", err)
	}
}

// BenchmarkParseWideMapping parses a YAML document with one mapping of
// 100,000 keys (libopenapi's own duplicate-key check took minutes on such).
func BenchmarkParseWideMapping(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("openapi: 3.0.0\ninfo: {title: t, version: \"1\"}\nservers: [{url: \"https://a.example.com\"}]\npaths:\n  /x:\n    get:\n      operationId: x\n      responses: {\"200\": {description: ok}}\nx-k: {")
	for i := range 100_000 {
		fmt.Fprintf(&sb, "k%d: 0,", i)
	}
	sb.WriteString("}\n")
	doc := []byte(sb.String())
	for b.Loop() {
		if _, err := Parse(doc, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHugeSchemasAreLeftToTheAPI: an operation whose schemas pass the
// validator's limit is not validated here (compiling 100,000 properties took
// minutes); a normal one is.
func TestHugeSchemasAreLeftToTheAPI(t *testing.T) {
	doc := func(n int) *Operation {
		var sb strings.Builder
		sb.WriteString("openapi: 3.0.0\ninfo: {title: t, version: \"1\"}\nservers: [{url: \"https://a.example.com\"}]\npaths:\n  /x:\n    post:\n      operationId: a\n      requestBody:\n        content:\n          application/json:\n            schema:\n              type: object\n              properties:\n")
		for i := range n {
			fmt.Fprintf(&sb, "                p%d: {type: string}\n", i)
		}
		sb.WriteString("      responses: {\"200\": {description: ok}}\n")
		d, err := Parse([]byte(sb.String()), "")
		if err != nil {
			t.Fatal(err)
		}
		op, _ := d.Operation("a")
		return op
	}
	if _, err := doc(100).BuildRequest(t.Context(), "", map[string]any{"p0": 5}, nil); err == nil || !strings.Contains(err.Error(), "p0: must be string") {
		t.Fatalf("100 properties: %v, want p0 validated", err)
	}
	if _, err := doc(2*maxDefsNodes).BuildRequest(t.Context(), "", map[string]any{"p0": 5}, nil); err != nil {
		t.Fatalf("%d properties: %v, want it left to the API", 2*maxDefsNodes, err)
	}
}
