package openapi

import (
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	yaml "github.com/pb33f/go-yaml"
)

// The document is read into libopenapi's YAML node tree (JSON documents too) and mapped from there:
// one code path for Swagger 2.0 and OpenAPI 3.x that keeps the distinctions this package needs
// (`security: []` versus no security, a server variable's default being present, exact numbers).

const (
	maxAliasHops  = 32    // alias → alias chains followed
	maxValueDepth = 128   // nesting of literal values (enum, default, examples) converted to JSON
	maxWalkDepth  = 512   // nesting walked when checking references
	maxValueNodes = 20000 // literal values (enum, const, default) converted per rendering
)

// deref follows YAML aliases; nil for a broken or endless chain.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i == maxAliasHops {
			return nil
		}
		n = n.Alias
	}
	return n
}

func isMap(n *yaml.Node) bool { return n != nil && n.Kind == yaml.MappingNode }
func isSeq(n *yaml.Node) bool { return n != nil && n.Kind == yaml.SequenceNode }

// pairs calls fn for each key/value of a mapping, in document order, including keys brought in
// by YAML merge keys (`<<: *anchor`) that the mapping does not set itself. fn returns false to stop.
func pairs(n *yaml.Node, fn func(key string, v *yaml.Node) bool) {
	pairsDepth(deref(n), fn, 0, nil)
}

func pairsDepth(n *yaml.Node, fn func(string, *yaml.Node) bool, depth int, seen map[string]bool) bool {
	if !isMap(n) || depth > 4 {
		return true
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			continue
		}
		if k.Value == "<<" && (k.Tag == "!!merge" || k.Style == 0) {
			merges = append(merges, n.Content[i+1])
			continue
		}
		if seen != nil {
			if seen[k.Value] {
				continue
			}
			seen[k.Value] = true
		}
		if !fn(k.Value, deref(n.Content[i+1])) {
			return false
		}
	}
	if len(merges) == 0 {
		return true
	}
	if seen == nil {
		seen = map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := deref(n.Content[i]); k != nil && !(k.Value == "<<" && (k.Tag == "!!merge" || k.Style == 0)) {
				seen[k.Value] = true
			}
		}
	}
	for _, m := range merges {
		m = deref(m)
		list := []*yaml.Node{m}
		if isSeq(m) {
			list = m.Content
		}
		for _, src := range list {
			if !pairsDepth(deref(src), fn, depth+1, seen) {
				return false
			}
		}
	}
	return true
}

// get returns the value of key in a mapping, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	var out *yaml.Node
	pairs(n, func(k string, v *yaml.Node) bool {
		if k == key {
			out = v
			return false
		}
		return true
	})
	return out
}

// has reports whether a mapping sets key at all (even to null).
func has(n *yaml.Node, key string) bool {
	found := false
	pairs(n, func(k string, _ *yaml.Node) bool {
		found = k == key
		return !found
	})
	return found
}

// str returns a scalar's text.
func str(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", false
	}
	return n.Value, true
}

func getStr(n *yaml.Node, key string) string {
	s, _ := str(get(n, key))
	return s
}

// boolean reads a YAML/JSON boolean; ok is false for anything else.
func boolean(n *yaml.Node) (v, ok bool) {
	s, isStr := str(n)
	if !isStr {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func getBool(n *yaml.Node, key string) (v, ok bool) { return boolean(get(n, key)) }

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// number reads a numeric scalar as a json.Number.
func number(n *yaml.Node) (json.Number, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	s := strings.TrimPrefix(n.Value, "+")
	exact := jsonNumber.MatchString(s)
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return "", false
	}
	if f == 0 && err == nil {
		return "0", true // 0, -0.0, or an underflow such as 1e-999999
	}
	if exact && err == nil && len(s) <= maxNumberText {
		return json.Number(s), true // as written: a large integer stays exact
	}
	// Beyond float64 (1e999999) or absurdly long: the nearest float64, so that
	// no bound costs the validator, or an error message, a million digits.
	if math.IsInf(f, 0) {
		f = math.Copysign(math.MaxFloat64, f)
	}
	if fs := strconv.FormatFloat(f, 'g', -1, 64); jsonNumber.MatchString(fs) {
		return json.Number(fs), true
	}
	return "", false
}

// maxNumberText is the longest number a document's text is kept as written.
const maxNumberText = 40

// value converts a node into the JSON value it denotes (map[string]any, []any, string, bool,
// json.Number or nil). Aliases are followed within the caller's budget of nodes: a YAML alias
// bomb is cut, not expanded.
func value(n *yaml.Node, budget *int) any {
	return valueDepth(n, 0, budget)
}

func valueDepth(n *yaml.Node, depth int, budget *int) any {
	n = deref(n)
	*budget--
	if n == nil || depth > maxValueDepth || *budget < 0 {
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return valueDepth(n.Content[0], depth+1, budget)
		}
		return nil
	case yaml.MappingNode:
		m := map[string]any{}
		pairs(n, func(k string, v *yaml.Node) bool {
			m[k] = valueDepth(v, depth+1, budget)
			return true
		})
		return m
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			out = append(out, valueDepth(c, depth+1, budget))
		}
		return out
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil
		case "!!bool":
			if b, ok := boolean(n); ok {
				return b
			}
		case "!!int", "!!float":
			if num, ok := number(n); ok {
				return num
			}
		}
		return n.Value
	}
	return nil
}

// lookup resolves a local reference ("#/components/schemas/Pet") against the document root.
// External references (another file, a URL) are never followed.
func lookup(root *yaml.Node, ref string) (*yaml.Node, bool) {
	if !strings.HasPrefix(ref, "#") {
		return nil, false
	}
	frag := ref[1:]
	if u, err := url.PathUnescape(frag); err == nil {
		frag = u
	}
	n := deref(root)
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = deref(n.Content[0])
	}
	if frag == "" {
		return n, n != nil
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, false // a plain-name fragment ($anchor) is not supported
	}
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch {
		case isMap(n):
			next := get(n, tok)
			if next == nil && !has(n, tok) {
				return nil, false
			}
			n = next
		case isSeq(n):
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil, false
			}
			n = deref(n.Content[i])
		default:
			return nil, false
		}
		if n == nil {
			return nil, false
		}
	}
	return n, true
}

// refOf returns the $ref string of a Reference Object or a schema that uses $ref.
func refOf(n *yaml.Node) (string, bool) {
	if !isMap(n) {
		return "", false
	}
	return str(get(n, "$ref"))
}

// join builds a problem location: "paths./pets.get" + "parameters" → "paths./pets.get.parameters".
func join(loc, key string) string {
	if loc == "" {
		return key
	}
	return loc + "." + key
}

func index(loc string, i int) string { return loc + "[" + strconv.Itoa(i) + "]" }
