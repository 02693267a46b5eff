package openapi

import (
	"strconv"
	"strings"
)

// SchemaError reports why a document cannot be used. Every problem names where it is, e.g.
// `paths./pets/{id}.get.responses.200.content.application/json.schema: $ref
// "#/components/schemas/Nope" cannot be resolved` or `servers: none declared; set "server_url"`.
// Problems are listed in the order they were found; all are reported at once (at most 50, then a
// count of the rest).
type SchemaError struct {
	Problems []string
}

func (e *SchemaError) Error() string {
	return "invalid OpenAPI document: " + strings.Join(e.Problems, "; ")
}

// ArgumentsError reports every way the arguments fail the operation's parameters and body
// schema, sorted. Each problem names the argument (a dotted path inside it where the problem is
// deeper) and the rule: `limit: must be <= 100`, `petId: required path parameter missing`,
// `color: unknown argument`.
type ArgumentsError struct {
	Problems []string
}

func (e *ArgumentsError) Error() string {
	return "invalid arguments: " + strings.Join(e.Problems, "; ")
}

const maxSchemaProblems = 50

// problems collects problems once each, in order, up to a cap.
type problems struct {
	list  []string
	seen  map[string]bool
	extra int
}

func (p *problems) add(s string) {
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	if p.seen[s] {
		return
	}
	p.seen[s] = true
	if len(p.list) >= maxSchemaProblems {
		p.extra++
		return
	}
	p.list = append(p.list, s)
}

func (p *problems) result() []string {
	if p.extra > 0 {
		return append(p.list, "document: "+strconv.Itoa(p.extra)+" more problems not listed")
	}
	return p.list
}
