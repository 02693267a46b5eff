// Package tools turns the operations of imported OpenAPI documents into tool definitions for
// language models: unique tool names, descriptions within GPT's limits, and a JSON Schema of
// exactly the flat arguments that invoke accepts. It renders them in the OpenAI, Anthropic and
// Model Context Protocol formats. It is pure: it depends only on package openapi.
//
// # Arguments
//
// A tool's parameters schema is an object with one property per argument, mirroring
// openapi.Operation.BuildRequest: the operation's parameters by name (two parameters of the same
// name in different places share one argument, which must satisfy both), and for an object
// body its top-level properties, or the whole body under "requestBody" when it is not an object
// or its property names collide with a parameter's. Parameters that carry the action's
// credential are left out, because the gateway fills them and drops what a model sends. Unknown
// arguments are refused (additionalProperties: false) unless the body is free-form.
// Schemas come from openapi with $refs inlined and recursion cut, OpenAPI 3.0 nullable written
// as a 3.1 type list; they are JSON Schema draft 2020-12.
//
// # Names
//
// A tool is named after its action and operation: the action name in lower case with every
// run of other characters than letters, digits and "-" turned into "_" (at most 24 characters),
// "_", then the operation id (already ^[a-zA-Z0-9_-]{1,64}$, see openapi.Operation.ID). A name
// longer than 64 characters is cut to 55 and suffixed with "_" and 8 hex digits of the SHA-256
// of the action id and operation id. When several tools end up with the same name, the first
// in the caller's order (actions by creation, then document order) keeps it and the others are
// cut and suffixed the same way. Names therefore depend only on the actions that exist: they
// are stable across restarts, and registering another action never renames an earlier one.
//
// # Descriptions
//
// A tool's description is the operation's summary and description with whitespace collapsed
// (or "METHOD /path" when both are missing), cut to 300 characters with the confirmation note
// of consequential operations included; descriptions inside argument schemas are cut to 700
// characters. These are GPT Actions' limits; other platforms allow more.
package tools

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/actiongate/actiongate/internal/openapi"
)

// Limits on description lengths, in characters (GPT Actions' limits).
const (
	MaxDescription          = 300
	MaxParameterDescription = 700
)

// Tool is one operation of an action as a language-model tool. Its Parameters map is shared:
// treat a Tool as read-only.
type Tool struct {
	// Name is unique among the tools passed to AssignNames together; before that it is the
	// candidate name.
	Name       string
	ActionID   string
	ActionName string
	// Revision identifies the version of the action the tool was generated from (the caller's
	// choice, e.g. the action's update time), so that changed tools can be told apart.
	Revision string
	// Operation is the operation's id (openapi.Operation.ID), as invoke takes it.
	Operation string
	Method    string
	Path      string
	// Title is a short human-readable label: the action's name and the operation's summary.
	Title string
	// Description is the operation's summary and description, without the confirmation note;
	// the formats add that note and cut the whole to MaxDescription.
	Description string
	// Parameters is the JSON Schema of the flat arguments object.
	Parameters map[string]any
	// Consequential operations need the user's confirmation before they run.
	Consequential bool
	// SchemaOmitted: the action's tools together, or this one alone, would exceed the bounds on
	// argument schemas (MaxActionNodes and the others), so Parameters accepts any object and the
	// description says so. Invoke still checks the arguments against the operation's schema.
	SchemaOmitted bool
}

// Action is what Generate needs to know about an action besides its document.
type Action struct {
	ID       string
	Name     string
	Revision string
	// Strip lists, for an operation, the places the gateway puts the action's credential in;
	// parameters there are not arguments. Nil means none.
	Strip func(op *openapi.Operation) []openapi.Credential
}

// Generate returns a tool for every operation of doc, in document order, named with their
// candidate names (see AssignNames).
//
// The tools' argument schemas are rendered within the bounds MaxActionNodes, MaxActionValues
// and MaxActionSchemaBytes, in document order, each within MaxToolSchemaBytes: a tool that does
// not fit gets a schema that accepts any object (SchemaOmitted), and once the bounds are used up
// nothing more is rendered.
func Generate(doc *openapi.Document, a Action) []Tool {
	out := make([]Tool, 0, len(doc.Operations))
	b := newBudget()
	for _, op := range doc.Operations {
		var strip []openapi.Credential
		if a.Strip != nil {
			strip = a.Strip(op)
		}
		title := a.Name + ": " + op.ID
		if s := collapseN(op.Summary, 120); s != "" {
			title = a.Name + ": " + s
		}
		t := Tool{
			Name:          candidate(a.Name, a.ID, op.ID),
			ActionID:      a.ID,
			ActionName:    a.Name,
			Revision:      a.Revision,
			Operation:     op.ID,
			Method:        op.Method,
			Path:          op.Path,
			Title:         truncate(title, 120),
			Description:   describe(op),
			Consequential: op.Consequential,
		}
		var ok bool
		if t.Parameters, ok = b.parameters(op, strip); !ok {
			t.Parameters, t.SchemaOmitted = omittedParameters(), true
			t.Description = omittedNote + " " + t.Description
		}
		out = append(out, t)
	}
	return out
}

// Parameters returns the JSON Schema of op's flat arguments object, leaving out the parameters
// placed where strip says the credential goes. It is bounded as one operation is, not as
// Generate bounds an action's tools together.
func Parameters(op *openapi.Operation, strip []openapi.Credential) map[string]any {
	in, _ := op.Inputs(nil)
	return parameters(op, in, strip)
}

func parameters(op *openapi.Operation, in *openapi.Inputs, strip []openapi.Credential) map[string]any {
	props := map[string]any{}
	var required []any
	isRequired := map[string]bool{}
	addRequired := func(name string) {
		if !isRequired[name] {
			isRequired[name] = true
			required = append(required, name)
		}
	}
	for _, p := range in.Params {
		if stripped(strip, p.In, p.Name) {
			continue
		}
		s := p.Schema
		if prev, dup := props[p.Name]; dup {
			props[p.Name] = map[string]any{"allOf": []any{prev, s}}
		} else {
			props[p.Name] = s
		}
		if p.Required {
			addRequired(p.Name)
		}
	}
	root := map[string]any{"type": "object"}
	passThrough := false
	if body := in.Body; body != nil {
		if !in.Whole {
			flat := in.Flat
			for name, s := range flat.Properties {
				props[name] = s
			}
			if op.BodyRequired() {
				for _, name := range flat.Required {
					addRequired(name)
				}
			}
			if flat.PassThrough {
				passThrough = true
				if flat.Extra != nil {
					root["additionalProperties"] = flat.Extra
				}
			}
		} else {
			if _, ok := body["description"]; !ok {
				body["description"] = "The request body (" + in.ContentType + ")."
			}
			props["requestBody"] = body
			if op.BodyRequired() {
				addRequired("requestBody")
			}
		}
	}
	for _, s := range props {
		cutDescriptions(s)
	}
	root["properties"] = props
	if len(required) > 0 {
		root["required"] = required
	}
	if !passThrough {
		root["additionalProperties"] = false
	}
	return root
}

// stripped mirrors openapi's rule: header names compare without case.
func stripped(strip []openapi.Credential, in, name string) bool {
	for _, c := range strip {
		if c.In == in && (c.Name == name || in == "header" && strings.EqualFold(c.Name, name)) {
			return true
		}
	}
	return false
}

// describe builds an operation's description from its summary and description. Only its first
// MaxDescription+1 characters are certain to be kept (see collapseN): the formats cut it to
// MaxDescription anyway, and an operation's texts can be large (a YAML alias can even give every
// operation the same large text).
func describe(op *openapi.Operation) string {
	s, d := collapseN(op.Summary, MaxDescription), collapseN(op.Description, MaxDescription)
	switch {
	case s == "" && d == "":
		return op.Method + " " + op.Path
	case d == "" || s == d:
		return s
	case s == "" || strings.HasPrefix(d, s):
		return d
	}
	sep := ". "
	if strings.ContainsRune(".!?:", rune(s[len(s)-1])) {
		sep = " "
	}
	return s + sep + d
}

// collapse trims a text and turns every run of white space into one space.
func collapse(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

// collapseN is collapse cut to its first limit+1 characters when it is longer: truncate(x, n)
// for any n <= limit gives the same for it as for the whole text, without reading (or copying)
// more of s than that.
func collapseN(s string, limit int) string {
	var b strings.Builder
	n, space := 0, false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = n > 0
			continue
		}
		if space {
			if n++; n > limit+1 {
				break
			}
			b.WriteByte(' ')
			space = false
		}
		if n++; n > limit+1 {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// truncate cuts s to at most limit characters, at a word boundary when one is near, marking
// the cut with "…".
func truncate(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	if limit < 1 {
		return ""
	}
	runes := []rune(s)[:limit-1]
	cut := string(runes)
	if i := strings.LastIndexByte(cut, ' '); i > len(cut)*2/3 {
		cut = cut[:i]
	}
	return strings.TrimRightFunc(cut, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) && r != ')' }) + "…"
}

// cutDescriptions collapses and cuts every description in a schema to MaxParameterDescription.
func cutDescriptions(s any) {
	walk(s, func(m map[string]any) {
		if d, ok := m["description"].(string); ok {
			m["description"] = truncate(collapseN(d, MaxParameterDescription), MaxParameterDescription)
		}
	})
}

// walk calls f for every schema object in s, following only keywords whose values are schemas
// (so a property named "description" is not taken for the keyword).
func walk(s any, f func(map[string]any)) {
	m, ok := s.(map[string]any)
	if !ok {
		return
	}
	f(m)
	for k, v := range m {
		switch k {
		case "properties", "patternProperties", "dependentSchemas", "$defs", "definitions":
			if sub, ok := v.(map[string]any); ok {
				for _, x := range sub {
					walk(x, f)
				}
			}
		case "items", "additionalProperties", "not", "if", "then", "else", "contains",
			"propertyNames", "unevaluatedProperties", "unevaluatedItems":
			walk(v, f)
		case "allOf", "anyOf", "oneOf", "prefixItems":
			if list, ok := v.([]any); ok {
				for _, x := range list {
					walk(x, f)
				}
			}
		}
	}
}
