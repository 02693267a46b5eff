package openapi

// FlatBody describes how an object request body appears among the flat arguments: each of its
// top-level properties is an argument of its own (see BuildRequest).
type FlatBody struct {
	// Properties maps each top-level property to its JSON Schema (allOf members merged). The
	// schemas are fresh copies.
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

// BodyRequired reports whether the document says the operation's request body is required.
func (op *Operation) BodyRequired() bool { return op.body != nil && op.body.required }

// FlatBody returns the body's argument mapping. ok is false when the operation has no body or
// its body is passed whole under "requestBody" (see BodySchema).
func (op *Operation) FlatBody() (f FlatBody, ok bool) {
	if op.body == nil {
		return FlatBody{}, false
	}
	prep := op.prepared()
	if prep.whole {
		return FlatBody{}, false
	}
	f = FlatBody{
		Properties:  make(map[string]any, len(prep.bodyProps)),
		Required:    append([]string(nil), prep.bodyRequired...),
		PassThrough: prep.passthrough,
	}
	for k, v := range prep.bodyProps {
		f.Properties[k] = copyValue(v)
	}
	if prep.extra != nil {
		f.Extra = copyValue(prep.extra)
	}
	return f, true
}
