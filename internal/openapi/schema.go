package openapi

import (
	"regexp"
	"sort"
	"strconv"

	yaml "github.com/pb33f/go-yaml"
)

// Schemas are rendered from the document into plain JSON Schema (draft 2020-12) maps: $refs
// inlined, OpenAPI 3.0 and Swagger 2.0 dialects translated (nullable, x-nullable, boolean
// exclusive bounds, type: file), keywords that cannot be validated dropped. No library renders
// schemas this way with a bound on recursion, so it is done here.

//
// An operation's schemas (its parameters' and its body's) are rendered together, by one renderer,
// so that everything it takes to render an operation is bounded whatever its number of
// parameters: schema objects (maxAllNodes) and literal values (maxValueNodes). Rendering the
// operations of a whole document (tool generation) multiplies that by their number; a caller
// bounds the total with a Budget (see Operation.Inputs).

const (
	maxRefNesting = 10    // $refs expanded inside one another on one branch
	maxDepth      = 64    // nesting of schema objects
	maxNodes      = 4000  // schema objects rendered for one parameter or body before $refs are cut
	maxAllNodes   = 12000 // schema objects rendered at all for one operation (YAML aliases can repeat a subtree exponentially)
	maxDefsNodes  = 6000  // the same for a validator (compiling costs the square of its size)
)

// Budget bounds the rendering of several operations' schemas together, such as the tools of one
// action: Operation.Inputs takes what it renders from it, and gives up (rendering no further)
// as soon as it would need more than is left. Each operation is also bounded on its own, so a
// Budget of at least maxAllNodes nodes and maxValueNodes values never changes a rendering, it
// only stops one.
type Budget struct {
	Nodes  int // schema objects
	Values int // literal values (enum, const and default, counting each element)
}

type renderer struct {
	doc   *Document
	stack []*yaml.Node // $ref targets being expanded on the current branch
	nodes int          // schema objects rendered for the current parameter or body (the $ref cut)
	total int          // schema objects rendered by this renderer (the hard limit)
	limit int          // on total
	// values left to convert for enum, const and default, shared by the whole rendering.
	values int

	// budget, when set, is the caller's (Inputs): running out of it before this rendering's own
	// limits sets exhausted, and the rendering stops; its result must then not be used.
	budget       *Budget
	budgetValues bool // values was set from the budget, not maxValueNodes
	exhausted    bool

	// In $defs mode (for validators) each $ref target is rendered once into defs and referred
	// to, so nothing is cut and compiling stays linear in the size of what is used.
	defs    map[string]any
	defName map[*yaml.Node]string // $ref or alias target → key in defs
}

// newRenderer renders schemas with every $ref inlined (for tool generation and the argument
// mapping), within b when it is not nil.
func (d *Document) newRenderer(b *Budget) *renderer {
	r := &renderer{doc: d, limit: maxAllNodes, values: maxValueNodes, budget: b}
	if b != nil && b.Values < maxValueNodes {
		r.values, r.budgetValues = max(b.Values, 0), true
	}
	return r
}

// top renders the schema of one parameter or body.
func (r *renderer) top(n *yaml.Node) map[string]any {
	r.nodes = 0
	return asMap(r.schema(n, 0))
}

// charge takes what the rendering used from its budget.
func (r *renderer) charge() {
	b := r.budget
	if b == nil {
		return
	}
	b.Nodes = max(b.Nodes-r.total, 0)
	if r.budgetValues {
		b.Values = max(r.values, 0)
	} else {
		b.Values = max(b.Values-(maxValueNodes-max(r.values, 0)), 0)
	}
}

// newDefsRenderer renders schemas whose $refs point into a shared $defs map.
func (d *Document) newDefsRenderer() *renderer {
	return &renderer{doc: d, limit: maxDefsNodes, values: maxValueNodes, defs: map[string]any{}, defName: map[*yaml.Node]string{}}
}

// asMap turns a boolean schema into its object form.
func asMap(s any) map[string]any {
	switch v := s.(type) {
	case map[string]any:
		return v
	case bool:
		if !v {
			return map[string]any{"not": map[string]any{}}
		}
	}
	return map[string]any{}
}

func (r *renderer) schema(n *yaml.Node, depth int) any {
	n = deref(n)
	if r.defs != nil && isMap(n) && n.Anchor != "" {
		return r.def(n) // a YAML-anchored subtree is rendered once, however often it is aliased
	}
	return r.schemaNode(n, depth)
}

func (r *renderer) schemaNode(n *yaml.Node, depth int) any {
	r.nodes++
	r.total++
	if r.exhausted {
		return map[string]any{}
	}
	if r.budget != nil && r.total > r.budget.Nodes && r.total <= r.limit {
		r.exhausted = true // the caller's budget, not this operation's limit
		return map[string]any{}
	}
	if n == nil || depth > maxDepth || r.total > r.limit {
		return map[string]any{}
	}
	if n.Kind == yaml.ScalarNode {
		if b, ok := boolean(n); ok {
			return b // 3.1 boolean schema
		}
		return map[string]any{}
	}
	if !isMap(n) {
		return map[string]any{}
	}
	if ref, ok := refOf(n); ok {
		return r.ref(n, ref, depth)
	}
	return r.object(n, depth)
}

// ref inlines a $ref; a cycle, a deep chain or an exhausted budget renders as "any value".
func (r *renderer) ref(n *yaml.Node, ref string, depth int) any {
	target, ok := r.doc.refs[ref]
	if !ok {
		// Not met while checking the document (inside a literal, say): resolve without caching,
		// so that concurrent renderings only ever read.
		target, _ = lookup(r.doc.root, ref)
	}
	if target == nil {
		return map[string]any{}
	}
	if r.defs != nil {
		return r.defRef(n, target)
	}
	cut := r.nodes > maxNodes || len(r.stack) >= maxRefNesting
	for _, t := range r.stack {
		if t == target {
			cut = true
		}
	}
	var base any = map[string]any{}
	if !cut {
		r.stack = append(r.stack, target)
		base = r.schema(target, depth+1)
		r.stack = r.stack[:len(r.stack)-1]
	}
	if nullableRef(n) {
		if bm, ok := base.(map[string]any); ok {
			shallow := make(map[string]any, len(bm)+1)
			for k, v := range bm {
				shallow[k] = v
			}
			base = makeNullable(shallow)
		}
	}
	// Keywords beside the $ref (3.1, or sloppy 3.0) apply too.
	siblings := r.object(n, depth)
	if len(siblings) == 0 {
		return base
	}
	annotations := true
	for k := range siblings {
		switch k {
		case "description", "title", "default", "deprecated", "readOnly", "writeOnly":
		default:
			annotations = false
		}
	}
	if bm, ok := base.(map[string]any); ok && annotations {
		out := make(map[string]any, len(bm)+len(siblings))
		for k, v := range bm {
			out[k] = v
		}
		for k, v := range siblings {
			out[k] = v
		}
		return out
	}
	return map[string]any{"allOf": []any{base, siblings}}
}

// def renders a node once into $defs and returns a reference to it.
func (r *renderer) def(target *yaml.Node) any {
	name, ok := r.defName[target]
	if !ok {
		name = "d" + strconv.Itoa(len(r.defName)+1)
		r.defName[target] = name
		r.defs[name] = true // placeholder while a cycle leads back here
		r.defs[name] = r.schemaNode(target, 0)
	}
	return map[string]any{"$ref": "#/$defs/" + name}
}

func (r *renderer) defRef(n *yaml.Node, target *yaml.Node) any {
	base := r.def(target)
	siblings := r.object(n, 0)
	if len(siblings) > 0 {
		base = map[string]any{"allOf": []any{base, siblings}}
	}
	if nullableRef(n) {
		return map[string]any{"anyOf": []any{base, map[string]any{"type": "null"}}}
	}
	return base
}

// nullableRef reports a $ref marked nullable beside it (common in generated 3.0 documents).
func nullableRef(n *yaml.Node) bool {
	v, _ := getBool(n, "nullable")
	x, _ := getBool(n, "x-nullable")
	return v || x
}

var jsonTypes = map[string]bool{"string": true, "number": true, "integer": true, "boolean": true, "array": true, "object": true, "null": true}

// object renders a schema object's keywords.
func (r *renderer) object(n *yaml.Node, depth int) map[string]any {
	out := map[string]any{}
	nullable := false
	var exclMin, exclMax *bool
	pairs(n, func(k string, v *yaml.Node) bool {
		switch k {
		case "type":
			if s, ok := str(v); ok {
				if s == "file" {
					out["type"], out["format"] = "string", "binary"
				} else if jsonTypes[s] {
					out["type"] = s
				}
			} else if isSeq(v) {
				var ts []any
				seen := map[string]bool{}
				for _, c := range v.Content {
					if s, ok := str(c); ok && jsonTypes[s] && !seen[s] {
						seen[s] = true
						ts = append(ts, s)
					}
				}
				if len(ts) == 1 {
					out["type"] = ts[0]
				} else if len(ts) > 1 {
					out["type"] = ts
				}
			}
		case "nullable", "x-nullable":
			nullable, _ = boolean(v)
		case "enum":
			if isSeq(v) && len(v.Content) > 0 {
				r.literal(out, k, v)
			}
		case "const":
			r.literal(out, k, v)
		case "default":
			if r.defs == nil { // annotations are of no use to a validator
				r.literal(out, k, v)
			}
		case "title", "description":
			if s, ok := str(v); ok && r.defs == nil {
				out[k] = s
			}
		case "format", "contentMediaType", "contentEncoding":
			if s, ok := str(v); ok {
				out[k] = s
			}
		case "pattern":
			if s, ok := str(v); ok && r.doc.validRegexp(s) {
				out[k] = s
			}
		case "maximum", "minimum":
			if num, ok := number(v); ok {
				out[k] = num
			}
		case "multipleOf":
			if num, ok := number(v); ok {
				if f, err := num.Float64(); err == nil && f > 0 {
					out[k] = num
				}
			}
		case "exclusiveMaximum", "exclusiveMinimum":
			if num, ok := number(v); ok {
				out[k] = num // 3.1
			} else if b, ok := boolean(v); ok {
				if k == "exclusiveMaximum" {
					exclMax = &b
				} else {
					exclMin = &b
				}
			}
		case "maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties", "maxContains", "minContains":
			if num, ok := number(v); ok {
				if i, err := num.Int64(); err == nil && i >= 0 {
					out[k] = num
				}
			}
		case "uniqueItems", "readOnly", "writeOnly", "deprecated":
			if b, ok := boolean(v); ok {
				out[k] = b
			}
		case "required":
			if isSeq(v) {
				req := []any{}
				seen := map[string]bool{}
				for _, c := range v.Content {
					if s, ok := str(c); ok && !seen[s] {
						seen[s] = true
						req = append(req, s)
					}
				}
				if len(req) > 0 {
					out[k] = req
				}
			}
		case "properties", "patternProperties", "dependentSchemas":
			if isMap(v) {
				props := map[string]any{}
				pairs(v, func(name string, s *yaml.Node) bool {
					if k == "patternProperties" && !r.doc.validRegexp(name) {
						return true
					}
					props[name] = r.schema(s, depth+1)
					return true
				})
				out[k] = props
			}
		case "additionalProperties", "contains", "propertyNames", "not", "if", "then", "else",
			"unevaluatedProperties", "unevaluatedItems":
			if isMap(v) || isBool(v) {
				out[k] = r.schema(v, depth+1)
			}
		case "items":
			if isSeq(v) { // draft-4 tuple form
				var items []any
				for _, c := range v.Content {
					items = append(items, r.schema(c, depth+1))
				}
				if len(items) > 0 {
					out["prefixItems"] = items
				}
			} else if isMap(v) || isBool(v) {
				out[k] = r.schema(v, depth+1)
			}
		case "prefixItems", "allOf", "anyOf", "oneOf":
			if isSeq(v) && len(v.Content) > 0 {
				var list []any
				for _, c := range v.Content {
					list = append(list, r.schema(c, depth+1))
				}
				if k == "oneOf" {
					k = "anyOf" // see the package doc
					if prev, ok := out["anyOf"].([]any); ok {
						out["allOf"] = append(asList(out["allOf"]), map[string]any{"anyOf": prev})
					}
				}
				out[k] = list
			}
		case "dependentRequired":
			if isMap(v) {
				dr := map[string]any{}
				pairs(v, func(name string, list *yaml.Node) bool {
					if isSeq(list) {
						var names []any
						for _, c := range list.Content {
							if s, ok := str(c); ok {
								names = append(names, s)
							}
						}
						dr[name] = names
					}
					return true
				})
				out[k] = dr
			}
		}
		return true
	})
	// 3.0 boolean exclusive bounds become 3.1 numeric ones.
	if exclMin != nil && *exclMin {
		if m, ok := out["minimum"]; ok {
			out["exclusiveMinimum"] = m
			delete(out, "minimum")
		}
	}
	if exclMax != nil && *exclMax {
		if m, ok := out["maximum"]; ok {
			out["exclusiveMaximum"] = m
			delete(out, "maximum")
		}
	}
	if nullable {
		return makeNullable(out)
	}
	return out
}

// literal sets a keyword whose value is data, unless the rendering's budget for literal values
// runs out (a keyword is dropped whole, never truncated).
func (r *renderer) literal(out map[string]any, k string, v *yaml.Node) {
	if r.values > 0 {
		val := value(v, &r.values)
		if r.values >= 0 {
			out[k] = val
			return
		}
	}
	if r.budgetValues {
		r.exhausted = true // the caller's budget ran out, not this operation's
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func isBool(n *yaml.Node) bool {
	_, ok := boolean(n)
	return ok && deref(n).Kind == yaml.ScalarNode
}

// makeNullable applies OpenAPI 3.0 nullable / Swagger 2.0 x-nullable.
func makeNullable(s map[string]any) map[string]any {
	switch t := s["type"].(type) {
	case string:
		if t != "null" {
			s["type"] = []any{t, "null"}
		}
	case []any:
		if !containsValue(t, "null") {
			s["type"] = append(append([]any{}, t...), "null")
		}
	default:
		if len(s) == 0 {
			return s // anything, null included
		}
		wrapped := map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
		for _, k := range []string{"description", "title"} {
			if v, ok := s[k]; ok {
				wrapped[k] = v
			}
		}
		return wrapped
	}
	if e, ok := s["enum"].([]any); ok && !containsValue(e, nil) {
		s["enum"] = append(append([]any{}, e...), nil)
	}
	return s
}

func containsValue(list []any, v any) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// validRegexp reports whether the validator can use a pattern (it uses Go's RE2 syntax; an
// ECMA-262 pattern with look-around is dropped rather than rejected). The answer is kept: a
// pattern is compiled once per document, not once per schema object that uses it (a rendering
// can repeat one thousands of times).
func (d *Document) validRegexp(s string) bool {
	if ok, seen := d.patterns.Load(s); seen {
		return ok.(bool)
	}
	_, err := regexp.Compile(s)
	d.patterns.Store(s, err == nil)
	return err == nil
}

// prepared is how an operation's arguments map onto its request: what BuildRequest needs, kept
// for the operation's lifetime. Its rendered schemas are not kept (Inputs renders them again
// when asked): a document's operations would otherwise hold as many renderings as were ever
// asked for.
type prepared struct {
	whole        bool             // the body goes under "requestBody"
	bodyProps    map[string]bool  // flat body: property → its schema accepts null
	bodyRequired []string         // flat body: required properties, sorted
	passthrough  bool             // flat body: extra arguments go into the body
	paramNames   map[string][]int // argument name → parameter indexes
}

func (op *Operation) prepared() *prepared {
	op.prepOnce.Do(func() { op.prep = op.doPrepare() })
	return op.prep
}

func (op *Operation) doPrepare() *prepared {
	pr := &prepared{paramNames: map[string][]int{}}
	for i, p := range op.params {
		pr.paramNames[p.name] = append(pr.paramNames[p.name], i)
	}
	if op.body == nil {
		return pr
	}
	rd, _ := op.render(nil)
	pr.whole = rd.whole
	if !rd.whole {
		pr.bodyProps = make(map[string]bool, len(rd.flat.props))
		for name, s := range rd.flat.props {
			pr.bodyProps[name] = acceptsNull(s)
		}
		pr.bodyRequired = rd.flat.required
		pr.passthrough = rd.passthrough
	}
	return pr
}

// rendered is an operation's argument schemas, rendered together.
type rendered struct {
	params []map[string]any // aligned with Operation.params
	body   map[string]any   // nil without a body

	whole       bool       // the body goes under "requestBody"
	flat        flatObject // flat body: its top-level properties (parts of body)
	passthrough bool       // flat body: extra arguments go into the body
}

// render renders the operation's body and parameter schemas with one renderer, within b when it
// is not nil. ok is false when b ran out: the rendering stopped there, and nothing is returned.
// The body comes first: the argument mapping depends on its shape, and a parameter's name does
// not depend on its schema, so an operation too large to render whole loses parameter schemas
// (they accept any value) before it loses its body's.
func (op *Operation) render(b *Budget) (rd *rendered, ok bool) {
	r := op.doc.newRenderer(b)
	defer r.charge()
	rd = &rendered{}
	if bd := op.body; bd != nil {
		if bd.formParams != nil {
			props := map[string]any{}
			var req []any
			for _, fp := range bd.formParams {
				s := r.top(fp.schema)
				if fp.description != "" {
					if _, ok := s["description"]; !ok {
						s["description"] = fp.description
					}
				}
				props[fp.name] = s
				if fp.required {
					req = append(req, fp.name)
				}
				if r.exhausted {
					return nil, false
				}
			}
			rd.body = map[string]any{"type": "object", "properties": props}
			if len(req) > 0 {
				rd.body["required"] = req
			}
		} else {
			rd.body = r.top(bd.schema)
		}
	}
	rd.params = make([]map[string]any, 0, len(op.params))
	for _, p := range op.params {
		if r.exhausted {
			return nil, false
		}
		var s map[string]any
		if p.schema == nil {
			s = map[string]any{"type": "string"}
		} else {
			s = r.top(p.schema)
		}
		if p.description != "" {
			if _, ok := s["description"]; !ok {
				s["description"] = p.description
			}
		}
		rd.params = append(rd.params, s)
	}
	if r.exhausted {
		return nil, false
	}
	rd.whole, rd.flat, rd.passthrough = op.mapBody(rd.body)
	return rd, true
}

// mapBody decides how a rendered body maps onto arguments: whole under "requestBody", or its
// top-level properties as arguments of their own.
func (op *Operation) mapBody(body map[string]any) (whole bool, flat flatObject, passthrough bool) {
	if op.body == nil {
		return false, flatObject{}, false
	}
	if op.body.kind == bodyRaw {
		return true, flatObject{}, false
	}
	flat, passthrough, ok := flattenBody(body)
	if !ok {
		return true, flatObject{}, false
	}
	if len(op.params) > 0 {
		names := make(map[string]bool, len(op.params))
		for _, p := range op.params {
			names[p.name] = true
		}
		for name := range flat.props {
			if names[name] {
				return true, flatObject{}, false
			}
		}
	}
	return false, flat, passthrough
}

type flatObject struct {
	props      map[string]any
	required   []string
	additional int // 0: not said, 1: allowed (true or a schema), -1: forbidden
	extra      any // the additionalProperties schema, if any
}

// flattenBody reads an object body's top-level properties. ok is false when the body is not
// plainly an object (a scalar, an array, a union…). An object that declares no properties, or
// allows additional ones, passes extra arguments through (Q34).
func flattenBody(s map[string]any) (f flatObject, passthrough, ok bool) {
	f, ok = flatten(s, 0)
	return f, f.additional == 1 || f.additional == 0 && len(f.props) == 0, ok
}

func flatten(s map[string]any, depth int) (flatObject, bool) {
	f := flatObject{props: map[string]any{}}
	if depth > 8 || s == nil {
		return f, false
	}
	object := false
	if alts, ok := s["anyOf"].([]any); ok {
		// Only "object or null" is still an object.
		var obj map[string]any
		for _, a := range alts {
			am, _ := a.(map[string]any)
			if t, _ := am["type"].(string); t == "null" {
				continue
			}
			if obj != nil {
				return f, false
			}
			obj = am
		}
		inner, ok := flatten(obj, depth+1)
		if !ok {
			return f, false
		}
		mergeFlat(&f, inner)
		object = true
	}
	switch t := s["type"].(type) {
	case string:
		if t != "object" {
			return f, false
		}
		object = true
	case []any:
		for _, x := range t {
			if x == "object" {
				object = true
			} else if x != "null" {
				return f, false
			}
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, m := range all {
			mm, _ := m.(map[string]any)
			inner, ok := flatten(mm, depth+1)
			if !ok {
				return f, false
			}
			mergeFlat(&f, inner)
			object = true
		}
	}
	props, hasProps := s["properties"].(map[string]any)
	if !object && !hasProps {
		return f, false
	}
	own := flatObject{props: props}
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			if name, ok := r.(string); ok {
				own.required = append(own.required, name)
			}
		}
	}
	switch ap := s["additionalProperties"].(type) {
	case bool:
		own.additional = -1
		if ap {
			own.additional = 1
		}
	case map[string]any:
		own.additional = 1
		if len(ap) > 0 {
			own.extra = ap
		}
	}
	mergeFlat(&f, own)
	sort.Strings(f.required)
	return f, true
}

func mergeFlat(dst *flatObject, src flatObject) {
	for k, v := range src.props {
		if prev, dup := dst.props[k]; dup {
			dst.props[k] = map[string]any{"allOf": []any{prev, v}}
		} else {
			dst.props[k] = v
		}
	}
	for _, r := range src.required {
		if !contains(dst.required, r) {
			dst.required = append(dst.required, r)
		}
	}
	switch {
	case src.additional == 1:
		dst.additional = 1
		if dst.extra == nil {
			dst.extra = src.extra
		}
	case src.additional == -1 && dst.additional == 0:
		dst.additional = -1
	}
}
