package openapi

import (
	"strconv"
	"strings"
	"sync"

	yaml "github.com/pb33f/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Operation is one operation of a Document. It is safe for concurrent use; its schemas are
// rendered and its validator compiled on first use, once.
type Operation struct {
	// ID is the operationId when it is a valid tool name (^[a-zA-Z0-9_-]{1,64}$) and unique;
	// otherwise a stable id derived from it or, when missing, from method and path (Q30).
	ID string
	// OperationID is the operationId exactly as the document declares it ("" when missing).
	OperationID string
	Method      string // upper case
	Path        string // the path template as written in the document
	Summary     string
	Description string
	// Consequential: POST, PUT, PATCH and DELETE are unless marked x-openai-isConsequential:
	// false; other methods are not unless marked true.
	Consequential bool
	// Security is the effective requirement list, operation-level if declared (an empty list
	// means none) else root-level. Any one requirement satisfies the operation.
	Security []SecurityRequirement
	// ServerURL is the base URL for this operation: the server URL override when given, else the
	// operation's or its path's own servers, else the document's ServerURL.
	ServerURL string

	doc              *Document
	loc              string
	params           []*param
	body             *body
	accept           string
	securityDeclared bool

	prepOnce sync.Once
	prep     *prepared

	compileOnce sync.Once
	validator   *jsonschema.Schema
	compileErr  error
}

// SecurityRequirement is one alternative of an operation's security: all of its schemes apply
// together. An empty requirement means the operation may be called anonymously.
type SecurityRequirement struct {
	Schemes []RequiredScheme
}

// RequiredScheme is a security scheme named by a requirement, with the scopes it asks for.
type RequiredScheme struct {
	SecurityScheme
	Scopes []string
}

// SecurityScheme is an entry of components.securitySchemes (securityDefinitions in Swagger 2.0).
type SecurityScheme struct {
	Name string // its key in the document
	// Type is apiKey, http, oauth2, openIdConnect or mutualTLS (Swagger 2.0 basic becomes http
	// with Scheme basic); "" when a requirement names a scheme the document does not define.
	Type             string
	Scheme           string // http: lower case, e.g. "basic", "bearer"
	In               string // apiKey: "header", "query" or "cookie"
	ParamName        string // apiKey: the header, query parameter or cookie name
	AuthorizationURL string // oauth2: of the first flow declared (authorizationCode first)
	TokenURL         string // oauth2
	Scopes           []string
}

// Credential is a place a credential goes: a header, query parameter or cookie.
type Credential struct {
	In   string // "header", "query" or "cookie"
	Name string
}

// APIKeyPlacement reports where the document says an API key goes for this operation: the first
// apiKey scheme among the requirements in effect (Q25). declared is false when none applies,
// including when the operation says `security: []` (see NoSecurity).
func (op *Operation) APIKeyPlacement() (c Credential, declared bool) {
	for _, req := range op.Security {
		for _, s := range req.Schemes {
			if s.Type == "apiKey" && s.ParamName != "" {
				switch s.In {
				case "header", "query", "cookie":
					return Credential{In: s.In, Name: s.ParamName}, true
				}
			}
		}
	}
	return Credential{}, false
}

// NoSecurity reports whether the document says this operation needs no credentials: its
// effective security is declared and is empty (`security: []`) or only anonymous (`[{}]`).
func (op *Operation) NoSecurity() bool {
	if !op.securityDeclared {
		return false
	}
	for _, r := range op.Security {
		if len(r.Schemes) > 0 {
			return false
		}
	}
	return true
}

// ParamInfo describes one parameter for tool generation.
type ParamInfo struct {
	Name        string
	In          string // "path", "query", "header" or "cookie"
	Required    bool
	Description string
	// Schema is the parameter's JSON Schema (draft 2020-12) with $refs resolved and recursion
	// cut at a bounded depth. Each call returns a fresh copy.
	Schema map[string]any
}

// Parameters lists the operation's parameters (path-level and operation-level merged), in
// document order. Swagger 2.0 formData parameters are body properties, see BodySchema. The
// schemas are rendered on each call; Inputs renders everything at once.
func (op *Operation) Parameters() []ParamInfo {
	rd, _ := op.render(nil)
	return op.paramInfos(rd)
}

func (op *Operation) paramInfos(rd *rendered) []ParamInfo {
	out := make([]ParamInfo, 0, len(op.params))
	for i, p := range op.params {
		out = append(out, ParamInfo{
			Name:        p.name,
			In:          p.in,
			Required:    p.required,
			Description: p.description,
			Schema:      rd.params[i],
		})
	}
	return out
}

// BodySchema returns the JSON Schema of the request body and the content type it is sent as.
// whole is true when the body is passed whole under the "requestBody" argument (a body that is
// not an object, or whose properties collide with parameter names); otherwise its top-level
// properties are arguments of their own. schema is nil when the operation has no body. The
// schema is rendered on each call; Inputs renders everything at once.
func (op *Operation) BodySchema() (schema map[string]any, contentType string, whole bool) {
	if op.body == nil {
		return nil, "", false
	}
	rd, _ := op.render(nil)
	return rd.body, op.body.contentType, rd.whole
}

type param struct {
	name        string
	in          string // path, query, header, cookie
	required    bool
	description string
	style       string
	explode     bool
	schema      *yaml.Node // the schema, or a Swagger 2.0 parameter object
	v2          bool       // schema is a Swagger 2.0 non-body parameter object
	jsonContent bool       // a 3.x parameter described by content: sent as JSON text
}

type bodyKind int

const (
	bodyJSON bodyKind = iota
	bodyForm
	bodyMultipart
	bodyRaw
)

type body struct {
	kind        bodyKind
	contentType string
	required    bool
	schema      *yaml.Node
	formParams  []*param // Swagger 2.0 formData parameters
	encoding    map[string]encoding
}

type encoding struct {
	style   string
	explode bool
}

var methodOrder = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations collects every operation in document order and assigns ids.
func (p *parser) operations(overridden bool) {
	d := p.doc
	paths := get(p.top, "paths")
	rootSecurity := get(p.top, "security")
	pairs(paths, func(path string, item *yaml.Node) bool {
		loc := join("paths", path)
		if r, ok := refOf(item); ok {
			item, _ = p.resolve(r)
		}
		if !isMap(item) {
			return true
		}
		pathServer := ""
		if !d.swagger2 && !overridden {
			pathServer = p.serverList(get(item, "servers"), join(loc, "servers"), false)
		}
		for _, m := range methodOrder {
			opNode := get(item, m)
			if !isMap(opNode) {
				continue
			}
			op := p.operation(path, m, item, opNode, join(loc, m), rootSecurity)
			op.ServerURL = d.ServerURL
			if pathServer != "" {
				op.ServerURL = pathServer
			}
			if !d.swagger2 && !overridden {
				if s := p.serverList(get(opNode, "servers"), join(op.loc, "servers"), false); s != "" {
					op.ServerURL = s
				}
			}
			d.Operations = append(d.Operations, op)
		}
		return true
	})
	assignIDs(d)
}

func (p *parser) operation(path, method string, item, n *yaml.Node, loc string, rootSecurity *yaml.Node) *Operation {
	op := &Operation{
		doc:         p.doc,
		loc:         loc,
		Method:      strings.ToUpper(method),
		Path:        path,
		OperationID: getStr(n, "operationId"),
		Summary:     getStr(n, "summary"),
		Description: getStr(n, "description"),
	}
	switch op.Method {
	case "POST", "PUT", "PATCH", "DELETE":
		op.Consequential = true
	}
	if v, ok := getBool(n, "x-openai-isConsequential"); ok {
		op.Consequential = v
	}
	if sec := get(n, "security"); isSeq(sec) {
		op.Security, op.securityDeclared = p.security(sec), true
	} else if isSeq(rootSecurity) {
		op.Security, op.securityDeclared = p.security(rootSecurity), true
	}
	p.parameters(op, item, n)
	if !p.doc.swagger2 {
		p.requestBody(op, get(n, "requestBody"))
	}
	op.accept = p.accept(n)
	return op
}

func (p *parser) security(list *yaml.Node) []SecurityRequirement {
	out := []SecurityRequirement{}
	if !isSeq(list) {
		return out
	}
	for _, c := range list.Content {
		var req SecurityRequirement
		pairs(c, func(name string, scopes *yaml.Node) bool {
			rs := RequiredScheme{SecurityScheme: SecurityScheme{Name: name}}
			for _, s := range p.doc.SecuritySchemes {
				if s.Name == name {
					rs.SecurityScheme = s
					break
				}
			}
			if isSeq(scopes) {
				for _, sc := range scopes.Content {
					if v, ok := str(sc); ok {
						rs.Scopes = append(rs.Scopes, v)
					}
				}
			}
			req.Schemes = append(req.Schemes, rs)
			return true
		})
		out = append(out, req)
	}
	return out
}

// parameters merges path-level and operation-level parameters (the operation's win) and
// creates the body of Swagger 2.0 operations.
func (p *parser) parameters(op *Operation, item, n *yaml.Node) {
	type key struct{ name, in string }
	var order []key
	byKey := map[key]*yaml.Node{}
	collect := func(list *yaml.Node) {
		if !isSeq(list) {
			return
		}
		for _, c := range list.Content {
			c = deref(c)
			if r, ok := refOf(c); ok {
				c, _ = p.resolve(r)
			}
			if !isMap(c) {
				continue
			}
			k := key{getStr(c, "name"), getStr(c, "in")}
			if k.name == "" {
				continue
			}
			if _, dup := byKey[k]; !dup {
				order = append(order, k)
			}
			byKey[k] = c
		}
	}
	collect(get(item, "parameters"))
	collect(get(n, "parameters"))

	template := pathTemplate(op.Path)
	inTemplate := map[string]bool{}
	for _, name := range templateNames(template) {
		inTemplate[name] = true
	}
	declaredPath := map[string]bool{}
	for _, k := range order {
		c := byKey[k]
		switch k.in {
		case "path":
			if !inTemplate[k.name] {
				continue // cannot be placed
			}
			declaredPath[k.name] = true
		case "query", "cookie":
		case "header":
			switch strings.ToLower(k.name) {
			case "accept", "content-type", "authorization":
				continue // ignored, as the OpenAPI specification requires
			}
		case "body":
			if p.doc.swagger2 {
				req, _ := getBool(c, "required")
				op.body = &body{kind: bodyJSON, required: req, schema: get(c, "schema")}
				op.body.contentType = p.consumes(op, n, false)
				if op.body.contentType != "" && !isJSON(op.body.contentType) {
					op.body.kind = bodyRaw
				}
				if op.body.contentType == "" {
					op.body.contentType = "application/json"
				}
			}
			continue
		case "formData":
			if p.doc.swagger2 {
				if op.body == nil || op.body.formParams == nil && op.body.schema != nil {
					op.body = &body{kind: bodyForm, contentType: "application/x-www-form-urlencoded"}
				}
				fp := swaggerParam(c, k)
				op.body.formParams = append(op.body.formParams, fp)
				if fp.required {
					op.body.required = true
				}
				if getStr(c, "type") == "file" {
					op.body.kind = bodyMultipart
				}
			}
			continue
		default:
			continue
		}
		var prm *param
		if p.doc.swagger2 {
			prm = swaggerParam(c, k)
		} else {
			prm = openapiParam(c, k)
		}
		if k.in == "path" {
			prm.required = true
		}
		op.params = append(op.params, prm)
	}
	// A template variable nobody declared is still a required path parameter.
	for _, name := range templateNames(template) {
		if !declaredPath[name] {
			declaredPath[name] = true
			op.params = append(op.params, &param{name: name, in: "path", required: true, style: "simple"})
		}
	}
	if op.body != nil && op.body.formParams != nil {
		ct := p.consumes(op, n, true)
		if op.body.kind == bodyMultipart || strings.HasPrefix(ct, "multipart/form-data") {
			op.body.kind, op.body.contentType = bodyMultipart, "multipart/form-data"
		}
	}
}

func openapiParam(c *yaml.Node, k struct{ name, in string }) *param {
	prm := &param{name: k.name, in: k.in, description: getStr(c, "description")}
	prm.required, _ = getBool(c, "required")
	prm.style = getStr(c, "style")
	if prm.style == "" {
		prm.style = "form"
		if k.in == "path" || k.in == "header" {
			prm.style = "simple"
		}
	}
	prm.explode = prm.style == "form"
	if v, ok := getBool(c, "explode"); ok {
		prm.explode = v
	}
	prm.schema = get(c, "schema")
	if prm.schema == nil {
		if content := get(c, "content"); isMap(content) && len(content.Content) >= 2 {
			prm.schema = get(deref(content.Content[1]), "schema")
			prm.jsonContent = true
		}
	}
	return prm
}

// swaggerParam maps a Swagger 2.0 non-body parameter; its collectionFormat becomes a style.
func swaggerParam(c *yaml.Node, k struct{ name, in string }) *param {
	prm := &param{name: k.name, in: k.in, description: getStr(c, "description"), schema: c, v2: true}
	prm.required, _ = getBool(c, "required")
	prm.style, prm.explode = "form", false
	if k.in == "path" || k.in == "header" {
		prm.style = "simple"
	}
	switch getStr(c, "collectionFormat") {
	case "multi":
		prm.style, prm.explode = "form", true
	case "ssv":
		prm.style = "spaceDelimited"
	case "pipes":
		prm.style = "pipeDelimited"
	case "tsv":
		prm.style = "tabDelimited"
	}
	return prm
}

// consumes picks a Swagger 2.0 request content type: JSON when offered, or for form
// parameters, urlencoded unless only multipart is offered.
func (p *parser) consumes(op *Operation, n *yaml.Node, form bool) string {
	list := get(n, "consumes")
	if !isSeq(list) {
		list = get(p.top, "consumes")
	}
	var types []string
	if isSeq(list) {
		for _, c := range list.Content {
			if s, ok := str(c); ok {
				types = append(types, strings.TrimSpace(s))
			}
		}
	}
	if form {
		for _, t := range types {
			if mediaType(t) == "application/x-www-form-urlencoded" {
				return t
			}
		}
		for _, t := range types {
			if mediaType(t) == "multipart/form-data" {
				return t
			}
		}
		return "application/x-www-form-urlencoded"
	}
	for _, t := range types {
		if isJSON(t) {
			return t
		}
	}
	if len(types) > 0 {
		return types[0]
	}
	return ""
}

// requestBody picks the media type to send: JSON when offered, then urlencoded, then
// multipart, then the first listed (sent raw).
func (p *parser) requestBody(op *Operation, rb *yaml.Node) {
	if r, ok := refOf(rb); ok {
		rb, _ = p.resolve(r)
	}
	content := get(rb, "content")
	if !isMap(content) {
		return
	}
	var chosen string
	var media *yaml.Node
	rank := 99
	pairs(content, func(ct string, m *yaml.Node) bool {
		r := 3
		switch mt := mediaType(ct); {
		case isJSON(ct) || mt == "*/*" || mt == "application/*":
			r = 0
		case mt == "application/x-www-form-urlencoded":
			r = 1
		case mt == "multipart/form-data":
			r = 2
		}
		if r < rank {
			rank, chosen, media = r, ct, m
		}
		return true
	})
	if chosen == "" {
		return
	}
	b := &body{contentType: chosen, schema: get(media, "schema")}
	b.required, _ = getBool(rb, "required")
	switch rank {
	case 0:
		b.kind = bodyJSON
		if mt := mediaType(chosen); mt == "*/*" || mt == "application/*" {
			b.contentType = "application/json"
		}
	case 1:
		b.kind = bodyForm
	case 2:
		b.kind = bodyMultipart
		b.contentType = "multipart/form-data"
	default:
		b.kind = bodyRaw
	}
	if b.kind == bodyForm {
		pairs(get(media, "encoding"), func(prop string, e *yaml.Node) bool {
			enc := encoding{style: getStr(e, "style")}
			if enc.style == "" {
				enc.style = "form"
			}
			enc.explode = enc.style == "form"
			if v, ok := getBool(e, "explode"); ok {
				enc.explode = v
			}
			if b.encoding == nil {
				b.encoding = map[string]encoding{}
			}
			b.encoding[prop] = enc
			return true
		})
	}
	op.body = b
}

// accept chooses the Accept header: application/json unless the successful responses only
// declare other media types.
func (p *parser) accept(n *yaml.Node) string {
	var types []string
	if p.doc.swagger2 {
		list := get(n, "produces")
		if !isSeq(list) {
			list = get(p.top, "produces")
		}
		if isSeq(list) {
			for _, c := range list.Content {
				if s, ok := str(c); ok {
					types = append(types, s)
				}
			}
		}
	} else {
		pairs(get(n, "responses"), func(code string, r *yaml.Node) bool {
			if !(strings.HasPrefix(code, "2") || code == "default") {
				return true
			}
			if ref, ok := refOf(r); ok {
				r, _ = p.resolve(ref)
			}
			pairs(get(r, "content"), func(ct string, _ *yaml.Node) bool {
				types = append(types, ct)
				return true
			})
			return true
		})
	}
	if len(types) == 0 {
		return "application/json"
	}
	var other []string
	for _, t := range types {
		mt := mediaType(t)
		if mt == "application/json" || mt == "*/*" {
			return "application/json"
		}
	}
	for _, t := range types {
		if isJSON(t) {
			return strings.TrimSpace(t)
		}
		if len(other) < 5 && !contains(other, mediaType(t)) {
			other = append(other, mediaType(t))
		}
	}
	return strings.Join(other, ", ")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// mediaType lower-cases a content type and drops its parameters.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

func isJSON(ct string) bool {
	mt := mediaType(ct)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// pathTemplate is the part of a path key that is a URL path: box.com's documents append
// "#fragment" to tell operations on the same path apart, OpenAI's add "?beta=true".
func pathTemplate(path string) string {
	if i := strings.IndexAny(path, "#?"); i >= 0 {
		return path[:i]
	}
	return path
}

func templateNames(template string) []string {
	var out []string
	for _, m := range serverVar.FindAllStringSubmatch(template, -1) {
		if m[1] != "" && !contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// assignIDs gives every operation a unique, valid, stable id (Q30). Valid operationIds that are
// unique keep their value; the others are sanitised (or derived from method and path) and
// suffixed _2, _3… in document order when taken.
func assignIDs(d *Document) {
	taken := map[string]bool{}
	count := map[string]int{}
	for _, op := range d.Operations {
		count[op.OperationID]++
	}
	for _, op := range d.Operations {
		if validID(op.OperationID) && count[op.OperationID] == 1 {
			taken[op.OperationID] = true
		}
	}
	for _, op := range d.Operations {
		if validID(op.OperationID) && count[op.OperationID] == 1 {
			op.ID = op.OperationID
			continue
		}
		base := sanitizeID(op.OperationID)
		if base == "" {
			base = sanitizeID(strings.ToLower(op.Method) + "_" + strings.NewReplacer("{", "", "}", "").Replace(pathTemplate(op.Path)))
		}
		id := base
		for i := 2; taken[id]; i++ {
			suffix := "_" + strconv.Itoa(i)
			b := base
			if len(b)+len(suffix) > 64 {
				b = b[:64-len(suffix)]
			}
			id = b + suffix
		}
		taken[id] = true
		op.ID = id
	}
	origCount := map[string]int{}
	for _, op := range d.Operations {
		d.byID[op.ID] = op
		origCount[op.OperationID]++
	}
	for _, op := range d.Operations {
		if op.OperationID != "" && op.OperationID != op.ID && origCount[op.OperationID] == 1 {
			if _, clash := d.byID[op.OperationID]; !clash {
				d.byOrigID[op.OperationID] = op
			}
		}
	}
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idChar(s[i]) {
			return false
		}
	}
	return true
}

func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// sanitizeID replaces each run of invalid characters with one underscore, trims underscores at
// the ends and cuts to 64 characters.
func sanitizeID(s string) string {
	var b strings.Builder
	under := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if idChar(c) && c != '_' {
			b.WriteByte(c)
			under = false
			continue
		}
		if !under {
			b.WriteByte('_')
			under = true
		}
	}
	out := strings.Trim(b.String(), "_")
	if len(out) > 64 {
		out = strings.TrimRight(out[:64], "_")
	}
	return out
}
