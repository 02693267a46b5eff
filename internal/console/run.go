package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/gateway"
	"github.com/actiongate/actiongate/internal/openapi"
)

// testView is the test console: pick an operation, fill its arguments (a
// form generated from its schemas, or raw JSON), run it.
type testView struct {
	Action   *gateway.Action
	Op       *gateway.OperationInputs // nil until an operation is chosen
	Fields   []argField
	User     string
	Mode     string // "form" or "json"
	ArgsJSON string
	Run      *runView // nil before a run
}

// argField is one input of the generated form.
type argField struct {
	Key         string // the argument name
	ID          string // the HTML id
	In          string // path, query, header, cookie or body
	Required    bool
	Description string
	Kind        string // text, integer, number, boolean, enum, json
	Options     []string
	Value       string
	Placeholder string
}

// runView is the outcome of one run.
type runView struct {
	Operation   string
	Request     string // the request as sent, credentials masked
	Sent        bool
	Status      int
	Response    string
	Error       *apierr.Error
	SignInURL   string
	Domain      string
	Confirm     bool   // a consequential operation waits for confirmation
	ArgsJSON    string // the arguments, for "confirm" and "run again"
	Confirmed   bool
	Consequence string
}

func (c *Console) testPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v, err := c.testView(r, q.Get("op"), q.Get("user"))
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "test.html", view{Title: "Test " + v.Action.Name, Nav: "actions", Page: v})
	return nil
}

func (c *Console) testView(r *http.Request, opID, user string) (*testView, error) {
	a, err := c.gw.GetAction(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	v := &testView{Action: a, User: user, Mode: "form"}
	if opID == "" && len(a.Operations) > 0 {
		opID = a.Operations[0].ID
	}
	if opID != "" {
		if v.Op, err = c.gw.OperationInputs(r.Context(), a.ID, opID); err != nil {
			return nil, err
		}
		v.Fields = fields(v.Op)
	}
	return v, nil
}

// fields generates the form for an operation: one input per parameter and
// per top-level body property (or one for the whole body), typed from its
// JSON Schema.
func fields(op *gateway.OperationInputs) []argField {
	var out []argField
	add := func(key, in, desc string, required bool, schema map[string]any) {
		f := argField{Key: key, ID: "arg-" + strconv.Itoa(len(out)), In: in, Required: required, Description: desc}
		if desc == "" {
			f.Description, _ = schema["description"].(string)
		}
		f.Kind = kindOf(schema)
		if enum, ok := schema["enum"].([]any); ok && len(enum) > 0 {
			f.Kind = "enum"
			for _, e := range enum {
				if e == nil {
					continue
				}
				f.Options = append(f.Options, scalarText(e))
			}
		}
		if d, ok := schema["default"]; ok && d != nil {
			f.Placeholder = "default: " + scalarText(d)
		} else if ex, ok := schema["example"]; ok && ex != nil {
			f.Placeholder = "e.g. " + scalarText(ex)
		} else if f.Kind == "json" {
			f.Placeholder = "JSON"
		}
		out = append(out, f)
	}
	for _, p := range op.Parameters {
		add(p.Name, p.In, p.Description, p.Required, p.Schema)
	}
	if op.Body == nil {
		return out
	}
	props, _ := op.Body["properties"].(map[string]any)
	if op.BodyWhole || len(props) == 0 {
		add("requestBody", "body", "The request body ("+op.BodyContentType+").", true, op.Body)
		return out
	}
	var required []string
	for _, x := range asSlice(op.Body["required"]) {
		if s, ok := x.(string); ok {
			required = append(required, s)
		}
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ra, rb := slices.Contains(required, a), slices.Contains(required, b)
		if ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys {
		s, _ := props[k].(map[string]any)
		add(k, "body", "", slices.Contains(required, k), s)
	}
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// kindOf picks the input for a schema by its (first non-null) type.
func kindOf(s map[string]any) string {
	var t string
	switch v := s["type"].(type) {
	case string:
		t = v
	case []any:
		for _, x := range v {
			if xs, ok := x.(string); ok && xs != "null" {
				t = xs
				break
			}
		}
	}
	switch t {
	case "string", "integer", "number", "boolean":
		if t == "string" {
			return "text"
		}
		return t
	}
	return "json"
}

func scalarText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// runTest runs the operation: arguments from the generated form or raw JSON,
// the request described (Gateway.Describe), then invoked.
func (c *Console) runTest(w http.ResponseWriter, r *http.Request) error {
	v, err := c.testView(r, r.PostFormValue("op"), strings.TrimSpace(r.PostFormValue("user")))
	if err != nil {
		return err
	}
	if v.Op == nil {
		return apierr.New(apierr.InvalidRequest, "This action has no operations.")
	}
	v.Mode = r.PostFormValue("mode")
	if v.Mode != "json" {
		v.Mode = "form"
	}
	v.ArgsJSON = r.PostFormValue("arguments")
	for i := range v.Fields {
		v.Fields[i].Value = r.PostFormValue("arg." + v.Fields[i].Key)
	}
	args, problems := readArguments(v)
	run := &runView{Operation: v.Op.ID, Confirmed: r.PostFormValue("confirmed") != ""}
	v.Run = run
	if len(problems) > 0 {
		run.Error = &apierr.Error{Code: apierr.InvalidArguments, Message: "the arguments cannot be read", Details: problems}
		c.render(w, r, http.StatusBadRequest, "test.html", view{Title: "Test " + v.Action.Name, Nav: "actions", Page: v})
		return nil
	}
	b, _ := json.Marshal(args)
	run.ArgsJSON = string(b)
	if v.Mode == "form" {
		v.ArgsJSON = indentJSON(b)
	}
	in := gateway.InvokeRequest{User: v.User, Operation: v.Op.ID, Arguments: args, Confirmed: run.Confirmed}
	desc, err := c.gw.Describe(r.Context(), v.Action.ID, in)
	if err == nil {
		run.Request = requestText(desc)
		var res *gateway.Result
		res, err = c.gw.Invoke(r.Context(), v.Action.ID, in)
		if err == nil {
			run.Sent, run.Status, run.Response = true, res.Status, responseText(res)
		}
	}
	if err != nil {
		e := apierr.From(err)
		switch e.Code {
		case apierr.SignInRequired:
			run.SignInURL, _ = e.Extra["sign_in_url"].(string)
			run.Domain, _ = e.Extra["domain"].(string)
		case apierr.ConfirmationRequired:
			run.Confirm = true
			run.Consequence = fmt.Sprintf("%s %s changes data on %s.", v.Op.Method, v.Op.Path, v.Action.Domain)
		case apierr.Internal:
			c.log.Error("console run", "action", v.Action.ID, "operation", v.Op.ID, "err", err)
			e = &apierr.Error{Code: apierr.Internal, Message: "The gateway failed to run this operation. The server log has the details."}
		case apierr.UpstreamUnreachable, apierr.UpstreamTimeout, apierr.UpstreamTooLarge:
			run.Sent = true
		}
		run.Error = e
	}
	c.render(w, r, http.StatusOK, "test.html", view{Title: "Test " + v.Action.Name, Nav: "actions", Page: v})
	return nil
}

// readArguments collects the arguments: the raw JSON object in "json" mode,
// else each filled-in field converted by its kind. Empty fields are left out.
func readArguments(v *testView) (map[string]any, []string) {
	args := map[string]any{}
	var problems []string
	if v.Mode == "json" {
		if strings.TrimSpace(v.ArgsJSON) == "" {
			return args, nil
		}
		if err := openapi.UnmarshalArguments([]byte(v.ArgsJSON), &args); err != nil || args == nil {
			return nil, []string{"arguments: must be a JSON object"}
		}
		return args, nil
	}
	for _, f := range v.Fields {
		raw := f.Value
		if f.Kind != "text" {
			raw = strings.TrimSpace(raw)
		}
		if raw == "" {
			continue
		}
		switch f.Kind {
		case "integer", "number", "boolean", "json":
			var x any
			if err := openapi.UnmarshalArguments([]byte(raw), &x); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %q is not %s", f.Key, raw, map[string]string{
					"integer": "a whole number", "number": "a number", "boolean": "true or false", "json": "valid JSON"}[f.Kind]))
				continue
			}
			args[f.Key] = x
		case "enum":
			// Enum options are shown as text; numbers and booleans go back as JSON.
			var x any
			if openapi.UnmarshalArguments([]byte(raw), &x) == nil {
				if _, isStr := x.(string); !isStr {
					args[f.Key] = x
					continue
				}
			}
			args[f.Key] = raw
		default:
			args[f.Key] = raw
		}
	}
	// Round-trip, so values have exactly the types a JSON API request has.
	b, _ := json.Marshal(args)
	out := map[string]any{}
	_ = openapi.UnmarshalArguments(b, &out)
	return out, problems
}

func requestText(d *gateway.RequestDescription) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", d.Method, d.URL)
	writeHeaders(&b, d.Headers)
	if d.Body != "" {
		b.WriteString("\n")
		b.WriteString(prettyIfJSON(d.Body))
		if d.BodyTruncated {
			b.WriteString("\n… (cut)")
		}
	}
	return b.String()
}

func writeHeaders(b *strings.Builder, h http.Header) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range h[k] {
			fmt.Fprintf(b, "%s: %s\n", k, v)
		}
	}
}

func responseText(res *gateway.Result) string {
	var b strings.Builder
	h := http.Header{}
	for k, v := range res.Headers {
		h[k] = []string{v}
	}
	writeHeaders(&b, h)
	b.WriteString("\n")
	switch body := res.Body.(type) {
	case json.RawMessage:
		b.WriteString(indentJSON(body))
	case string:
		if res.BodyEncoding == "base64" {
			fmt.Fprintf(&b, "(binary, %d characters of base64)\n", len(body))
		} else {
			b.WriteString(body)
		}
	default:
		j, _ := json.Marshal(body)
		b.WriteString(indentJSON(j))
	}
	return b.String()
}

func prettyIfJSON(s string) string {
	if json.Valid([]byte(s)) {
		return indentJSON([]byte(s))
	}
	return s
}

func indentJSON(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}
