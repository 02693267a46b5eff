package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"

	yaml "github.com/pb33f/go-yaml"
	"github.com/pb33f/libopenapi/datamodel"
)

// Document is an imported OpenAPI document. It is immutable and safe for concurrent use.
type Document struct {
	Title string
	// Version is the document's declared OpenAPI or Swagger version ("3.1.0", "2.0").
	Version string
	// ServerURL is the absolute base URL: the server URL override when one was given, else the
	// document's first server with its variables replaced by their defaults (Q28). No trailing slash.
	ServerURL string
	// Operations in document order: path order, then get, put, post, delete, options, head,
	// patch, trace.
	Operations []*Operation
	// SecuritySchemes declared by the document (components.securitySchemes, or
	// securityDefinitions in Swagger 2.0), in document order.
	SecuritySchemes []SecurityScheme

	root     *yaml.Node
	refs     map[string]*yaml.Node // every local $ref of the document, resolved
	swagger2 bool
	byID     map[string]*Operation
	byOrigID map[string]*Operation
	patterns sync.Map // pattern → whether it compiles (see validRegexp)
}

// Operation returns the operation with the given id. An operationId as written in the document
// is accepted too when it was changed to make a valid id and is unambiguous.
func (d *Document) Operation(id string) (*Operation, bool) {
	if op, ok := d.byID[id]; ok {
		return op, true
	}
	op, ok := d.byOrigID[id]
	return op, ok
}

// Domain is the host of ServerURL, lower case, without port.
func (d *Document) Domain() string {
	u, err := url.Parse(d.ServerURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// Parse reads an OpenAPI 3.0/3.1 (JSON or YAML) or Swagger 2.0 document.
//
// serverURL, when non-empty, is the builder's base URL override (absolute http(s)); it wins over
// every server the document declares. An unusable document yields a *SchemaError listing every
// problem found. Parse never fetches anything: external $refs are reported, not followed.
func Parse(data []byte, serverURL string) (doc *Document, err error) {
	// Fuzzing (FuzzParse calls parse directly) keeps this from ever being needed; it stays as a
	// last guard because a document comes from whoever registers an action.
	defer func() {
		if r := recover(); r != nil {
			doc = nil
			err = &SchemaError{Problems: []string{"document: cannot be read (internal error)"}}
		}
	}()
	return parse(data, serverURL)
}

func parse(data []byte, serverURL string) (*Document, error) {
	p := &parser{}
	doc := p.parse(data, serverURL)
	if probs := p.problems.result(); len(probs) > 0 {
		return nil, &SchemaError{Problems: probs}
	}
	return doc, nil
}

type parser struct {
	problems problems
	doc      *Document
	top      *yaml.Node // the root mapping
}

func (p *parser) addf(format string, args ...any) { p.problems.add(fmt.Sprintf(format, args...)) }

func (p *parser) parse(data []byte, override string) *Document {
	var base string
	if override != "" {
		base = p.overrideURL(override)
	}
	// SkipJSONConversion: libopenapi's own structural check finds duplicate
	// keys in time quadratic in a mapping's size (150,000 keys took 93 s);
	// checkStructure below does the same checks in linear time.
	info, err := datamodel.ExtractSpecInfoWithConfig(data, &datamodel.DocumentConfiguration{SkipJSONConversion: true})
	if err != nil && info != nil && info.RootNode != nil && !isMap(documentRoot(info.RootNode)) {
		p.addf("document: %s", notAnObject)
		return nil
	}
	if err != nil {
		p.addf("document: %s", readError(err))
		return nil
	}
	if info == nil || info.RootNode == nil {
		p.addf("document: cannot be read")
		return nil
	}
	if err := checkStructure(data, info); err != nil {
		p.addf("document: %s", readError(err))
		return nil
	}
	root := info.RootNode
	top := root
	if top.Kind == yaml.DocumentNode && len(top.Content) > 0 {
		top = deref(top.Content[0])
	}
	if !isMap(top) {
		p.addf("document: not an OpenAPI object")
		return nil
	}
	p.top = top
	d := &Document{
		root:     root,
		refs:     map[string]*yaml.Node{},
		Title:    getStr(get(top, "info"), "title"),
		byID:     map[string]*Operation{},
		byOrigID: map[string]*Operation{},
	}
	p.doc = d
	switch {
	case has(top, "openapi"):
		d.Version = getStr(top, "openapi")
		if !strings.HasPrefix(d.Version, "3.") {
			p.addf("openapi: version %q is not supported (3.0, 3.1 or Swagger 2.0)", d.Version)
			return nil
		}
	case has(top, "swagger"):
		d.Version = getStr(top, "swagger")
		if d.Version != "2.0" && d.Version != "2" {
			p.addf("swagger: version %q is not supported (3.0, 3.1 or Swagger 2.0)", d.Version)
			return nil
		}
		d.swagger2 = true
	default:
		p.addf("document: neither \"openapi\" nor \"swagger\" is declared")
		return nil
	}

	p.checkRefs(top, "", "", "", 0)

	if override != "" {
		d.ServerURL = base
	} else if d.swagger2 {
		d.ServerURL = p.swaggerServer()
	} else {
		d.ServerURL = p.serverList(get(top, "servers"), "servers", true)
	}
	d.SecuritySchemes = p.securitySchemes()
	p.operations(override != "")
	if len(d.Operations) == 0 {
		p.addf("paths: no operations")
	}
	return d
}

// checkStructure is what libopenapi checks of a document's structure when it
// builds its JSON view, done here in linear time: a JSON document must be valid
// JSON (the YAML parser that read it is more lenient), and no YAML mapping may
// have a key twice (same kind and text, as the YAML decoder compares them).
func checkStructure(data []byte, info *datamodel.SpecInfo) error {
	if info.SpecFileType == datamodel.JSONFileType {
		if json.Valid(data) {
			return nil
		}
		var v map[string]any
		return fmt.Errorf("failed to unmarshal JSON: %w", json.Unmarshal(data, &v))
	}
	var dups []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.MappingNode:
			type key struct {
				kind  yaml.Kind
				value string
			}
			seen := make(map[key]int, len(n.Content)/2)
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if line, ok := seen[key{k.Kind, k.Value}]; ok {
					if len(dups) < 5 {
						dups = append(dups, fmt.Sprintf("line %d: mapping key %q already defined at line %d", k.Line, k.Value, line))
					}
					found = true
					continue
				}
				seen[key{k.Kind, k.Value}] = k.Line
			}
			if found {
				return
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
	}
	walk(info.RootNode)
	if len(dups) > 0 {
		return errors.New("failed to decode YAML to JSON: yaml: construct errors: " + strings.Join(dups, "; "))
	}
	return nil
}

// notAnObject says what a document that is not a mapping should be.
const notAnObject = "not a JSON or YAML object: an OpenAPI document is a mapping that starts with \"openapi: 3…\""

// documentRoot is the top node of a parsed document.
func documentRoot(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return deref(n.Content[0])
	}
	return n
}

func readError(err error) string {
	msg := err.Error()
	// libopenapi's own words for the common cases say little about the fix.
	switch {
	case strings.Contains(msg, "spec type not supported"):
		return `neither "openapi" nor "swagger" is declared: this is not an OpenAPI document`
	case strings.Contains(msg, "unknown version"):
		return `the "openapi" version is not supported (3.0, 3.1 or Swagger 2.0)`
	case strings.Contains(msg, "cannot construct") || strings.Contains(msg, "cannot unmarshal"):
		return notAnObject
	}
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return "cannot be read as JSON or YAML OpenAPI: " + msg
}

// checkRefs walks the whole document once, resolves every local $ref (the renderer uses the
// results) and reports those that cannot be resolved, point outside the document, or are only a
// reference to themselves (Q31). Literal values (examples, defaults, enums, extensions) are not
// searched: a "$ref" inside them is data.
func (p *parser) checkRefs(n *yaml.Node, loc, parentKey, grandKey string, depth int) {
	if n == nil || n.Kind == yaml.AliasNode || depth > maxWalkDepth {
		return
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p.checkRefs(c, index(loc, i), "[]", parentKey, depth+1)
		}
	case yaml.MappingNode:
		names := isNameContainer(parentKey, grandKey)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			v := n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				continue
			}
			key := k.Value
			if key == "$ref" && v.Kind == yaml.ScalarNode && !names {
				p.checkRef(n, v.Value, loc)
				continue
			}
			if !names && isLiteralKey(key, v, grandKey) {
				continue
			}
			p.checkRefs(v, join(loc, key), key, parentKey, depth+1)
		}
	}
}

// isNameContainer reports whether a mapping's keys are names (of properties, schemas, paths,
// media types…) rather than keywords, so that "$ref" or "default" there is a name.
func isNameContainer(parentKey, grandKey string) bool {
	if grandKey == "properties" || grandKey == "patternProperties" {
		return false // parentKey is a property name and the mapping its schema
	}
	switch parentKey {
	case "properties", "patternProperties", "definitions", "$defs", "dependentSchemas",
		"securityDefinitions", "responses", "parameters", "paths", "webhooks", "headers",
		"content", "encoding", "links", "callbacks", "variables", "examples":
		return true
	case "schemas", "requestBodies", "securitySchemes", "pathItems":
		return grandKey == "components"
	}
	return false
}

// isLiteralKey reports keywords whose values are literal data, not document structure.
func isLiteralKey(key string, v *yaml.Node, grandKey string) bool {
	switch key {
	case "example", "default", "const", "enum":
		return true
	case "examples":
		return v.Kind == yaml.SequenceNode // a schema's list of examples; else Example Objects
	case "value":
		return grandKey == "examples" // an Example Object's value
	}
	return strings.HasPrefix(key, "x-")
}

func (p *parser) checkRef(holder *yaml.Node, ref, loc string) {
	if loc == "" {
		loc = "document"
	}
	if !strings.HasPrefix(ref, "#") {
		p.addf("%s: $ref %q points outside the document; external references are not supported", loc, ref)
		return
	}
	target, ok := p.resolve(ref)
	if !ok {
		p.addf("%s: $ref %q cannot be resolved", loc, ref)
		return
	}
	// Q31: a chain of bare references that comes back to where it started never reaches a schema.
	if !isBareRef(holder) {
		return
	}
	seen := map[*yaml.Node]bool{holder: true}
	for n := target; isBareRef(n); {
		if seen[n] {
			if n == holder {
				if next, _ := refOf(n); next == ref && target == holder {
					p.addf("%s: $ref %q refers to itself", loc, ref)
				} else {
					p.addf("%s: $ref %q is part of a reference cycle that never reaches a schema", loc, ref)
				}
			}
			return
		}
		seen[n] = true
		r, _ := refOf(n)
		next, ok := p.resolve(r)
		if !ok {
			return
		}
		n = next
	}
}

// isBareRef reports whether a mapping is a $ref with nothing but annotations beside it.
func isBareRef(n *yaml.Node) bool {
	if _, ok := refOf(n); !ok {
		return false
	}
	bare := true
	pairs(n, func(k string, _ *yaml.Node) bool {
		switch k {
		case "$ref", "description", "summary", "title", "$comment":
			return true
		}
		bare = strings.HasPrefix(k, "x-")
		return bare
	})
	return bare
}

func (p *parser) resolve(ref string) (*yaml.Node, bool) {
	if n, ok := p.doc.refs[ref]; ok {
		return n, n != nil
	}
	n, ok := lookup(p.doc.root, ref)
	if !ok {
		n = nil
	}
	p.doc.refs[ref] = n
	return n, ok
}

var serverVar = regexp.MustCompile(`\{([^{}]*)\}`)

func (p *parser) overrideURL(raw string) string {
	u, problem := absoluteURL(strings.TrimSpace(raw))
	if problem != "" {
		p.addf("server_url %q must be an absolute http(s) URL: %s", raw, problem)
		return ""
	}
	return u
}

// absoluteURL checks an absolute http(s) base URL and normalises it (lower-case scheme and host,
// no trailing slash, no fragment).
func absoluteURL(raw string) (string, string) {
	if strings.ContainsAny(raw, "<>{} \t\r\n\"`") {
		return "", "it contains a placeholder or invalid characters"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "it cannot be parsed"
	}
	if u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return "", "it is relative"
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", "the scheme is not http or https"
	}
	if u.User != nil {
		return "", "it must not contain credentials"
	}
	if u.RawQuery != "" || u.ForceQuery {
		return "", "it must not have a query"
	}
	host := u.Hostname()
	if host == "" || !validHost(host) {
		return "", "the host is not valid"
	}
	u.Host = strings.ToLower(u.Host)
	u.Fragment, u.RawFragment = "", ""
	return strings.TrimRight(u.String(), "/"), ""
}

func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

// serverList picks the first server of a servers list (Q27, Q28). With required, a missing or
// unusable list is a problem; otherwise "" means "inherit".
func (p *parser) serverList(list *yaml.Node, loc string, required bool) string {
	if !isSeq(list) || len(list.Content) == 0 {
		if required {
			p.addf(`%s: none declared; set "server_url"`, loc)
		}
		return ""
	}
	s := deref(list.Content[0])
	sloc := index(loc, 0)
	raw, _ := str(get(s, "url"))
	if raw == "" {
		if required {
			p.addf(`%s.url: missing; set "server_url"`, sloc)
		}
		return ""
	}
	vars := get(s, "variables")
	ok := true
	substituted := serverVar.ReplaceAllStringFunc(raw, func(m string) string {
		name := m[1 : len(m)-1]
		v := get(vars, name)
		if v == nil {
			ok = false
			p.addf(`%s.url: variable {%s} is not declared; set "server_url"`, sloc, name)
			return m
		}
		def, has := str(get(v, "default"))
		if !has {
			ok = false
			p.addf(`%s.variables.%s: no default; set "server_url"`, sloc, name)
			return m
		}
		return def
	})
	if !ok {
		return ""
	}
	u, problem := absoluteURL(strings.TrimSpace(substituted))
	if problem != "" {
		if !required && problem == "it is relative" {
			return "" // a relative operation-level server: use the document's
		}
		if problem == "it is relative" {
			p.addf(`%s.url %q is relative; set "server_url"`, sloc, raw)
		} else {
			p.addf(`%s.url %q cannot be used (%s); set "server_url"`, sloc, raw, problem)
		}
		return ""
	}
	return u
}

// swaggerServer builds the base URL of a Swagger 2.0 document from host, basePath and schemes.
func (p *parser) swaggerServer() string {
	host := strings.TrimSpace(getStr(p.top, "host"))
	if host == "" {
		p.addf(`host: none declared; set "server_url"`)
		return ""
	}
	scheme := ""
	if schemes := get(p.top, "schemes"); isSeq(schemes) {
		for _, c := range schemes.Content {
			s, _ := str(c)
			switch strings.ToLower(s) {
			case "https":
				scheme = "https"
			case "http":
				if scheme == "" {
					scheme = "http"
				}
			}
		}
		if scheme == "" && len(schemes.Content) > 0 {
			p.addf(`schemes: neither http nor https is offered; set "server_url"`)
			return ""
		}
	}
	if scheme == "" {
		scheme = "https"
	}
	basePath := getStr(p.top, "basePath")
	if basePath != "" && !strings.HasPrefix(basePath, "/") {
		basePath = "/" + basePath
	}
	raw := scheme + "://" + host + basePath
	u, problem := absoluteURL(raw)
	if problem != "" {
		p.addf(`host %q cannot be used (%s); set "server_url"`, host, problem)
		return ""
	}
	return u
}

func (p *parser) securitySchemes() []SecurityScheme {
	var container *yaml.Node
	if p.doc.swagger2 {
		container = get(p.top, "securityDefinitions")
	} else {
		container = get(get(p.top, "components"), "securitySchemes")
	}
	var out []SecurityScheme
	pairs(container, func(name string, n *yaml.Node) bool {
		if r, ok := refOf(n); ok {
			n, _ = p.resolve(r)
		}
		s := SecurityScheme{Name: name, Type: getStr(n, "type")}
		switch s.Type {
		case "apiKey":
			s.In = strings.ToLower(getStr(n, "in"))
			s.ParamName = getStr(n, "name")
		case "http":
			s.Scheme = strings.ToLower(getStr(n, "scheme"))
		case "basic": // Swagger 2.0
			s.Type, s.Scheme = "http", "basic"
		case "oauth2":
			if p.doc.swagger2 {
				s.AuthorizationURL = getStr(n, "authorizationUrl")
				s.TokenURL = getStr(n, "tokenUrl")
				s.Scopes = keys(get(n, "scopes"))
			} else {
				flows := get(n, "flows")
				for _, f := range []string{"authorizationCode", "clientCredentials", "implicit", "password"} {
					if fl := get(flows, f); fl != nil {
						s.AuthorizationURL = getStr(fl, "authorizationUrl")
						s.TokenURL = getStr(fl, "tokenUrl")
						s.Scopes = keys(get(fl, "scopes"))
						break
					}
				}
			}
		}
		out = append(out, s)
		return true
	})
	return out
}

func keys(n *yaml.Node) []string {
	var out []string
	pairs(n, func(k string, _ *yaml.Node) bool {
		out = append(out, k)
		return true
	})
	return out
}
