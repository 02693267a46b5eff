package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// validationSchema is the schema of an operation's flat arguments object: a property per
// parameter (and "requestBody" for a whole body), and for a flat body the body schema itself,
// which sees the same object. Presence is checked before validation, so that "required …
// missing" and "unknown argument" read the same for every kind of argument; the body schema's
// own root-level required and additionalProperties failures are ignored for that reason.
func (op *Operation) validationSchema() map[string]any {
	prep := op.prepared()
	r := op.doc.newDefsRenderer()
	props := map[string]any{}
	add := func(name string, s any) {
		if prev, ok := props[name]; ok {
			props[name] = map[string]any{"allOf": []any{prev, s}}
			return
		}
		props[name] = s
	}
	for _, p := range op.params {
		s := any(map[string]any{"type": "string"})
		if p.schema != nil {
			s = r.schema(p.schema, 0)
		}
		add(p.name, s)
	}
	root := map[string]any{"type": "object"}
	if b := op.body; b != nil {
		var body any
		if b.formParams != nil {
			fprops := map[string]any{}
			for _, fp := range b.formParams {
				fprops[fp.name] = r.schema(fp.schema, 0)
			}
			body = map[string]any{"type": "object", "properties": fprops}
		} else {
			body = r.schema(b.schema, 0)
		}
		if prep.whole {
			add("requestBody", body)
		} else {
			root["allOf"] = []any{body}
		}
	}
	root["properties"] = props
	if len(r.defs) > 0 {
		root["$defs"] = r.defs
	}
	if r.total > r.limit {
		// Past the limit the renderer writes "any value" for each further
		// schema, but an object's properties stay, and compiling costs more
		// than the square of their number (100,000 took minutes): such an
		// operation is left to the API to validate.
		return nil
	}
	return root
}

// compiled returns the operation's validator, compiled once on first use. A schema the
// validator cannot compile (it should not happen: rendering drops what it cannot use) leaves
// the operation unvalidated rather than unusable.
func (op *Operation) compiled() (*jsonschema.Schema, error) {
	op.compileOnce.Do(func() {
		if s := op.validationSchema(); s != nil {
			op.validator, op.compileErr = compileSchema(s)
		}
	})
	return op.validator, op.compileErr
}

const schemaURL = "urn:actiongate:arguments"

func compileSchema(s map[string]any) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(schemaURL, s); err != nil {
		return nil, err
	}
	return c.Compile(schemaURL)
}

func (b *builder) validate() {
	sch, _ := b.op.compiled()
	if sch == nil || len(b.checked) == 0 {
		return
	}
	err := sch.Validate(normalize(b.checked))
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		collect(ve, b.checked, &b.problems)
	}
}

// normalize turns Go values a caller may pass (ints, typed slices…) into JSON values.
func normalize(m map[string]any) any {
	data, err := json.Marshal(m)
	if err != nil {
		return m
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(data)))
	if err != nil {
		return m
	}
	return v
}

var printer = message.NewPrinter(language.English)

// maxArgumentProblems is how many problems an invalid_arguments error lists at
// most (one more line says there are more).
const maxArgumentProblems = 50

// collect turns a validation error tree into "argument.path: rule" problems,
// stopping once it has more than maxArgumentProblems (capProblems cuts them).
func collect(e *jsonschema.ValidationError, args map[string]any, out *[]string) {
	if len(*out) > maxArgumentProblems {
		return
	}
	loc := location(e.InstanceLocation, args)
	switch k := e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.AllOf, *kind.Reference:
		for _, c := range e.Causes {
			collect(c, args, out)
		}
		return
	case *kind.AnyOf, *kind.OneOf:
		collectUnion(e, loc, args, out)
		return
	case *kind.Required:
		if len(e.InstanceLocation) == 0 {
			return // checked before validation
		}
		for _, m := range k.Missing {
			*out = append(*out, join(loc, m)+": required property missing")
		}
		return
	case *kind.AdditionalProperties:
		if len(e.InstanceLocation) == 0 {
			return // checked before validation
		}
		for _, p := range k.Properties {
			*out = append(*out, join(loc, p)+": unknown property")
		}
		return
	}
	if loc == "" {
		loc = "arguments"
	}
	*out = append(*out, loc+": "+message1(e.ErrorKind))
}

// collectUnion explains a failed anyOf (or oneOf): when all alternatives but one fail only
// because the value has another type, the reasons of that one alternative; else a generic rule.
func collectUnion(e *jsonschema.ValidationError, loc string, args map[string]any, out *[]string) {
	var candidates []*jsonschema.ValidationError
	for _, c := range e.Causes {
		if !wrongType(c, len(e.InstanceLocation)) {
			candidates = append(candidates, c)
		}
	}
	if len(candidates) == 1 {
		before := len(*out)
		collect(candidates[0], args, out)
		if len(*out) > before {
			return
		}
	}
	if loc == "" {
		loc = "arguments"
	}
	*out = append(*out, loc+": does not match any of the allowed schemas")
}

// wrongType reports whether an alternative failed only because the value itself (at depth)
// has another type.
func wrongType(e *jsonschema.ValidationError, depth int) bool {
	switch e.ErrorKind.(type) {
	case *kind.Type:
		return len(e.InstanceLocation) == depth
	case *kind.Schema, *kind.Group, *kind.AllOf, *kind.Reference:
		for _, c := range e.Causes {
			if !wrongType(c, depth) {
				return false
			}
		}
		return len(e.Causes) > 0
	}
	return false
}

// location writes an instance location as the argument name and a path inside it:
// ["filter","status"] → "filter.status", ["ids","1"] → "ids[1]".
func location(parts []string, args map[string]any) string {
	var sb strings.Builder
	var cur any = args
	for i, p := range parts {
		if list, ok := cur.([]any); ok {
			sb.WriteString("[" + p + "]")
			if n, err := strconv.Atoi(p); err == nil && n >= 0 && n < len(list) {
				cur = list[n]
			} else {
				cur = nil
			}
			continue
		}
		if i > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(p)
		if m, ok := cur.(map[string]any); ok {
			cur = m[p]
		} else {
			cur = nil
		}
	}
	return sb.String()
}

func message1(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("must be %s, not %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Enum:
		var vals []string
		for i, w := range k.Want {
			if i == 20 {
				vals = append(vals, "…")
				break
			}
			vals = append(vals, shortJSON(w))
		}
		return "must be one of " + strings.Join(vals, ", ")
	case *kind.Const:
		return "must be " + shortJSON(k.Want)
	case *kind.Maximum:
		return "must be <= " + ratText(k.Want)
	case *kind.Minimum:
		return "must be >= " + ratText(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be < " + ratText(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be > " + ratText(k.Want)
	case *kind.MultipleOf:
		return "must be a multiple of " + ratText(k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d %s long", k.Want, plural(k.Want, "character"))
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d %s long", k.Want, plural(k.Want, "character"))
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d %s", k.Want, plural(k.Want, "item"))
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d %s", k.Want, plural(k.Want, "item"))
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d %s", k.Want, plural(k.Want, "property"))
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d %s", k.Want, plural(k.Want, "property"))
	case *kind.Pattern:
		return fmt.Sprintf("must match the pattern %s", k.Want)
	case *kind.UniqueItems:
		return "must not contain duplicate items"
	case *kind.FalseSchema:
		return "is not allowed"
	case *kind.Not:
		return "matches a schema it must not match"
	case *kind.Format:
		return "must be a valid " + k.Want
	}
	return k.LocalizedString(printer)
}

// plural is noun for n of them: "1 item", "2 items", "3 properties".
func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	if strings.HasSuffix(noun, "y") {
		return noun[:len(noun)-1] + "ies"
	}
	return noun + "s"
}

// shortJSON is a value of the document shown in an error: strings cut short,
// objects and arrays named rather than written out, so that no message grows
// with the document.
func shortJSON(v any) string {
	switch v := v.(type) {
	case string:
		return jsonText(cutText(v, maxShownValue))
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return cutText(jsonText(v), maxShownValue)
}

// maxShownValue is how much of a value an error message shows.
const maxShownValue = 60

func ratText(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.Num().BitLen() > 64 || r.Denom().BitLen() > 64 { // never hundreds of digits
		f, _ := r.Float64()
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	if r.IsInt() {
		return r.Num().String()
	}
	s := r.FloatString(10)
	return strings.TrimRight(strings.TrimRight(s, "0"), ".")
}
