// Package openapi imports an action's OpenAPI document (3.0, 3.1 or Swagger 2.0; JSON or YAML) and
// turns a model's flat JSON arguments into an HTTP request for one of its operations.
//
// Parse reads the document once, reports every reason it cannot be used at the same time (a
// *SchemaError whose problems each name where), and returns a Document: the base URL, and the
// operations in document order with stable, tool-name-safe ids (quirk Q30). An Operation knows its
// parameters, its request body, the security requirements in effect and whether it is
// consequential; BuildRequest validates arguments against the operation's JSON schemas (every
// problem at once, as an *ArgumentsError) and encodes them the way the document says (path
// escaping, query style/explode, headers, cookies, JSON/form/multipart bodies).
//
// # Parser choice
//
// Documents are read with github.com/pb33f/libopenapi (its reader: the JSON fast path, YAML
// with alias-expansion limits, version detection), chosen over github.com/getkin/kin-openapi
// after loading the whole test corpus with both: libopenapi imports every document (kin-openapi
// cannot load Slack's Swagger 2.0 document, whose draft-4 tuple `items` fail to unmarshal),
// reports every unresolvable $ref rather than the first, parses the 1.9 MB Twilio document about
// 6x faster with a quarter of the allocations, and builds with the module's existing go.sum
// (kin-openapi needs three more modules). The evidence table is in docs/openapi.md.
//
// The node tree libopenapi reads is mapped onto this package's own small model, one code path
// for Swagger 2.0 and OpenAPI 3.x: libopenapi's typed models have no 2.0 → 3 conversion and lose
// distinctions the contract needs (`security: []` versus none in 2.0, a server variable's missing
// default). Schemas are rendered from the tree into plain JSON Schema maps here and validated with
// github.com/santhosh-tekuri/jsonschema/v6 (draft 2020-12), one validator per operation,
// compiled lazily on first use.
//
// # What is accepted
//
// Lenient where real documents are sloppy, strict where a request could go wrong:
//   - A document is invalid when it has no usable absolute server (and no server URL override),
//     a server variable without a default, a $ref that cannot be resolved inside the document
//     (external references are never fetched), a schema that is only a $ref to itself, or no
//     operations. Problems are capped at 50.
//   - Unquoted YAML response codes, OpenAPI 3.1 (webhooks, type arrays, numeric
//     exclusiveMinimum), 3.0 nullable and boolean exclusive bounds, Swagger 2.0 x-nullable,
//     undefined security schemes and sloppy schema keywords (`required: true` on a property,
//     `properties: []`, invalid regular expressions) are all imported; keywords that cannot be
//     validated are dropped rather than rejected.
//   - $ref cycles are cut where they recur, and expansion stops at a bounded depth and size, so
//     rendered schemas are always finite; beyond the cut a schema accepts any value.
//   - oneOf is rendered as anyOf: a value that matches two alternatives of a sloppy oneOf is not
//     rejected, and the rendered schemas stay within what model tool-calling accepts.
//
// # Arguments
//
// Arguments are flat: keys are parameter names and, for a JSON or form object body, the body's
// top-level properties (allOf members are merged). A body that is not an object, or whose
// property names collide with a parameter name, goes whole under the key "requestBody". Unknown
// arguments are rejected ("color: unknown argument") so a model learns the real names, except
// for bodies that declare themselves free-form (an object without properties, or with
// additionalProperties), whose extra arguments are passed through into the body. A null
// parameter value counts as absent. Header parameters named Accept, Content-Type or
// Authorization are ignored, as the OpenAPI specification requires.
package openapi
