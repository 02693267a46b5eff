package tools

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/actiongate/actiongate/internal/openapi"
)

// Bounds on the argument schemas of one action's tools. openapi bounds each operation's
// rendering on its own (12,000 schema objects); these bound an action's tools together, since a
// document can make every one of thousands of operations render to that limit (a few kilobytes
// of schemas $ref'ing one another). What they cost is kept for as long as the action is
// unchanged (the gateway caches tools per action version) and sent on every tool listing.
//
// They are set well above what real documents need: across the test corpus the largest action
// is Xero's accounting API (235 tools: 63,000 schema objects, 125,000 literal values, 6.8 MB of
// schemas; its largest tool 447 KB), and no corpus tool reaches them (TestToolsCorpus).
// MaxActionNodes is what bounds memory: a rendered schema object costs about 120 bytes in
// memory but may serialize to as little as 3.
const (
	// MaxActionNodes bounds the schema objects rendered for one action's tools, including
	// renderings given up on.
	MaxActionNodes = 250_000
	// MaxActionValues bounds the literal values (enum, const and default elements) rendered for
	// one action's tools.
	MaxActionValues = 500_000
	// MaxActionSchemaBytes bounds the serialized size of one action's parameters schemas.
	MaxActionSchemaBytes = 16 << 20
	// MaxToolSchemaBytes bounds the serialized size of one tool's parameters schema.
	MaxToolSchemaBytes = 1 << 20
)

// omittedNote starts the description of a tool whose parameters schema is omitted.
const omittedNote = "[Argument schema omitted: too large to list.]"

// omittedParameters is the parameters schema of a tool whose schema does not fit: any object.
// Invoke still checks the arguments against the full schema and names every problem.
func omittedParameters() map[string]any {
	return map[string]any{"type": "object", "properties": map[string]any{}, "additionalProperties": true}
}

// budget is what is left for the rest of an action's tools.
type budget struct {
	render openapi.Budget
	bytes  int
}

func newBudget() *budget {
	return &budget{render: openapi.Budget{Nodes: MaxActionNodes, Values: MaxActionValues}, bytes: MaxActionSchemaBytes}
}

// parameters renders op's parameters schema within the budget; ok is false when it does not fit
// (what was rendered before giving up is spent all the same, so that the work done for an
// action's tools stays bounded too).
func (b *budget) parameters(op *openapi.Operation, strip []openapi.Credential) (p map[string]any, ok bool) {
	in, ok := op.Inputs(&b.render)
	if !ok {
		return nil, false
	}
	p = parameters(op, in, strip)
	n, fits := jsonSize(p, min(MaxToolSchemaBytes, b.bytes))
	if !fits {
		return nil, false
	}
	b.bytes -= n
	return p, true
}

// jsonSize is the length of v encoded by encoding/json, counted without encoding it, and
// whether it is at most limit (counting stops beyond it).
func jsonSize(v any, limit int) (int, bool) {
	s := sizer{limit: limit}
	s.value(v)
	return s.n, s.n <= limit
}

type sizer struct{ n, limit int }

func (s *sizer) value(v any) {
	if s.n > s.limit {
		return
	}
	switch x := v.(type) {
	case nil:
		s.n += 4
	case bool:
		if x {
			s.n += 4
		} else {
			s.n += 5
		}
	case string:
		s.str(x)
	case json.Number:
		s.n += len(x)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			s.n += 4
		} else {
			s.n += len(strconv.FormatFloat(x, 'g', -1, 64))
		}
	case int:
		s.n += len(strconv.Itoa(x))
	case map[string]any:
		s.n += 2 + max(len(x)-1, 0) // braces and commas
		for k, e := range x {
			s.str(k)
			s.n++ // colon
			s.value(e)
			if s.n > s.limit {
				return
			}
		}
	case []any:
		s.n += 2 + max(len(x)-1, 0)
		for _, e := range x {
			s.value(e)
			if s.n > s.limit {
				return
			}
		}
	default: // not produced by package openapi; counted the slow way
		data, err := json.Marshal(x)
		if err != nil {
			s.n = s.limit + 1
			return
		}
		s.n += len(data)
	}
}

// str counts a string as encoding/json writes it: quoted, with <, > and & and control
// characters escaped, invalid UTF-8 replaced.
func (s *sizer) str(x string) {
	s.n += 2
	for i := 0; i < len(x); {
		c := x[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
				s.n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				s.n += 6
			default:
				s.n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(x[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			s.n += 6
		} else {
			s.n += size
		}
		i += size
	}
}
