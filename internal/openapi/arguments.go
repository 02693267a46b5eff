package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
)

// FlatBody describes how an object request body appears among the flat arguments: each of its
// top-level properties is an argument of its own (see BuildRequest).
type FlatBody struct {
	// Properties maps each top-level property to its JSON Schema (allOf members merged).
	Properties map[string]any
	// Required lists the properties a body must have, sorted. They are required only when a body
	// is sent: always when the body is required (BodyRequired), else once any property is given.
	Required []string
	// PassThrough: arguments that are neither parameters nor declared properties go into the
	// body (a free-form body, Q34) instead of being rejected as unknown.
	PassThrough bool
	// Extra is the schema such extra arguments must match; nil means any value.
	Extra any
}

// Inputs is everything a tool says about an operation's arguments, rendered at once: the
// parameters, the body and how the body maps onto arguments. It is the caller's: its schemas are
// fresh, but Flat's are parts of Body's.
type Inputs struct {
	Params []ParamInfo
	// Body is the request body's JSON Schema, sent as ContentType; nil without a body.
	Body        map[string]any
	ContentType string
	// Whole: the body goes whole under the "requestBody" argument (see BodySchema).
	Whole bool
	// Flat is the body's argument mapping when there is a body and it is not Whole.
	Flat FlatBody
}

// Inputs renders the operation's parameter and body schemas together. With a budget b, what the
// rendering takes is subtracted from b, and once b would run out the rendering stops: ok is
// false and in is nil (b is then spent as far as it got). A nil b only bounds the operation
// itself, like every other rendering.
//
// Rendering is not kept: each call renders again, so that a Document does not hold the schemas
// of every operation it was ever asked about.
func (op *Operation) Inputs(b *Budget) (in *Inputs, ok bool) {
	rd, ok := op.render(b)
	if !ok {
		return nil, false
	}
	in = &Inputs{Params: op.paramInfos(rd), Body: rd.body}
	if op.body == nil {
		return in, true
	}
	in.ContentType, in.Whole = op.body.contentType, rd.whole
	if !rd.whole {
		in.Flat = rd.flatBody()
	}
	return in, true
}

func (rd *rendered) flatBody() FlatBody {
	f := FlatBody{
		Properties:  rd.flat.props,
		Required:    rd.flat.required,
		PassThrough: rd.passthrough,
	}
	if f.Properties == nil {
		f.Properties = map[string]any{}
	}
	if rd.flat.extra != nil {
		f.Extra = rd.flat.extra
	}
	return f
}

// BodyRequired reports whether the document says the operation's request body is required.
func (op *Operation) BodyRequired() bool { return op.body != nil && op.body.required }

// FlatBody returns the body's argument mapping. ok is false when the operation has no body or
// its body is passed whole under "requestBody" (see BodySchema). The schemas are rendered on each
// call; Inputs renders everything at once.
func (op *Operation) FlatBody() (f FlatBody, ok bool) {
	if op.body == nil {
		return FlatBody{}, false
	}
	rd, _ := op.render(nil)
	if rd.whole {
		return FlatBody{}, false
	}
	return rd.flatBody(), true
}

// UnmarshalArguments decodes JSON arguments keeping numbers exact (as
// json.Number): decoded as float64, an id such as 1234567890123456789 would
// reach the API as 1234567890123456800.
func UnmarshalArguments(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}
