package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// BuildRequest maps flat arguments onto a request against baseURL (an absolute http(s) URL; ""
// means the operation's ServerURL).
//
// Keys of args are parameter names and, for an object body, its top-level properties, or
// "requestBody" for a body passed whole (see BodySchema). strip lists the credential locations
// the caller will fill: arguments that target them are ignored and never sent (Q25). Arguments
// that do not satisfy the operation yield an *ArgumentsError listing every problem; the
// request carries no credentials. Any other error means baseURL is unusable.
func (op *Operation) BuildRequest(ctx context.Context, baseURL string, args map[string]any, strip []Credential) (*http.Request, error) {
	if baseURL == "" {
		baseURL = op.ServerURL
	}
	base, problem := absoluteURL(baseURL)
	if problem != "" {
		return nil, fmt.Errorf("openapi: base URL %q: %s", baseURL, problem)
	}
	if n := countValues(args, MaxArgumentValues+1); n > MaxArgumentValues {
		return nil, &ArgumentsError{Problems: []string{fmt.Sprintf("arguments: more than %d values (for larger payloads use the proxy)", MaxArgumentValues)}}
	}
	prep := op.prepared()
	b := &builder{op: op, prep: prep, params: map[int]any{}, bodyVals: map[string]any{}, strip: strip}
	b.classify(args, strip)
	b.checkRequired(strip)
	b.validate()
	if len(b.problems) == 0 {
		b.encode()
	}
	if len(b.problems) > 0 {
		return nil, &ArgumentsError{Problems: capProblems(sortedUnique(b.problems))}
	}
	target := base + b.path
	if len(b.query) > 0 {
		target += "?" + strings.Join(b.query, "&")
	}
	var rd io.Reader
	if b.body != nil {
		rd = bytes.NewReader(b.body)
	}
	req, err := http.NewRequestWithContext(ctx, op.Method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("openapi: building request: %w", err)
	}
	for _, h := range b.headers {
		req.Header.Add(h[0], h[1])
	}
	if len(b.cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(b.cookies, "; "))
	}
	if op.accept != "" {
		req.Header.Set("Accept", op.accept)
	}
	if b.body != nil {
		req.Header.Set("Content-Type", b.contentType)
	}
	return req, nil
}

type builder struct {
	op       *Operation
	prep     *prepared
	strip    []Credential
	problems []string

	params    map[int]any    // parameter index → value
	bodyVals  map[string]any // flat body properties
	whole     any
	haveWhole bool
	checked   map[string]any // what the validator sees
	sendBody  bool

	path        string
	query       []string // encoded key=value pairs, in order
	headers     [][2]string
	cookies     []string
	body        []byte
	contentType string
}

func (b *builder) addf(format string, a ...any) {
	b.problems = append(b.problems, fmt.Sprintf(format, a...))
}

func isStripped(strip []Credential, in, name string) bool {
	for _, c := range strip {
		if c.In != in {
			continue
		}
		if in == "header" && strings.EqualFold(c.Name, name) || c.Name == name {
			return true
		}
	}
	return false
}

// classify sorts each argument into a parameter, the body, or a problem.
func (b *builder) classify(args map[string]any, strip []Credential) {
	op, prep := b.op, b.prep
	b.checked = map[string]any{}
	for _, key := range sortedKeys(args) {
		v := args[key]
		if idxs, ok := prep.paramNames[key]; ok {
			for _, i := range idxs {
				p := op.params[i]
				if isStripped(strip, p.in, p.name) || v == nil {
					continue // a credential's place, or null: absent
				}
				b.params[i] = v
				b.checked[key] = v
			}
			continue
		}
		if op.body != nil {
			if prep.whole && key == "requestBody" {
				if v != nil {
					b.whole, b.haveWhole = v, true
					b.checked[key] = v
				}
				continue
			}
			if !prep.whole {
				nullable, declared := prep.bodyProps[key]
				if declared || prep.passthrough {
					if v == nil && !contains(prep.bodyRequired, key) && declared && !nullable {
						continue // an optional property sent as null: absent
					}
					b.bodyVals[key] = v
					b.checked[key] = v
					continue
				}
			}
		}
		if isStripped(strip, "header", key) || isStripped(strip, "query", key) || isStripped(strip, "cookie", key) {
			continue // never let a model set a credential
		}
		b.addf("%s: unknown argument", key)
	}
}

func (b *builder) checkRequired(strip []Credential) {
	op, prep := b.op, b.prep
	for i, p := range op.params {
		if !p.required || isStripped(strip, p.in, p.name) {
			continue
		}
		if _, ok := b.params[i]; !ok {
			b.addf("%s: required %s parameter missing", p.name, p.in)
		}
	}
	if op.body == nil {
		return
	}
	if prep.whole {
		b.sendBody = b.haveWhole
		if !b.haveWhole && op.body.required {
			b.addf("requestBody: required request body missing")
		}
		return
	}
	if len(b.bodyVals) == 0 && !op.body.required {
		return
	}
	b.sendBody = true
	for _, name := range prep.bodyRequired {
		if _, ok := b.bodyVals[name]; !ok {
			b.addf("%s: required body property missing", name)
		}
	}
}

// acceptsNull reports whether a rendered schema lets null through.
func acceptsNull(s any) bool {
	m, ok := s.(map[string]any)
	if !ok {
		return s == true
	}
	switch t := m["type"].(type) {
	case string:
		return t == "null"
	case []any:
		return containsValue(t, "null")
	}
	if e, ok := m["enum"].([]any); ok {
		return containsValue(e, nil)
	}
	if alts, ok := m["anyOf"].([]any); ok {
		for _, a := range alts {
			if acceptsNull(a) {
				return true
			}
		}
		return false
	}
	return m["allOf"] == nil && m["not"] == nil
}

func (b *builder) encode() {
	b.encodePath()
	b.encodeParams()
	if b.sendBody {
		b.encodeBody()
	}
}

func (b *builder) encodePath() {
	template := pathTemplate(b.op.Path)
	var sb strings.Builder
	rest := template
	for {
		i := strings.IndexByte(rest, '{')
		j := strings.IndexByte(rest[max(i, 0):], '}')
		if i < 0 || j < 0 {
			sb.WriteString(escapeLiteralPath(rest))
			break
		}
		j += i
		sb.WriteString(escapeLiteralPath(rest[:i]))
		name := rest[i+1 : j]
		written := false
		for idx, p := range b.op.params {
			if p.in == "path" && p.name == name {
				if v, ok := b.params[idx]; ok {
					seg := b.pathValue(p, v)
					// A value of "." or ".." would climb the path once a server or
					// proxy normalises it: refused, not sent.
					if seg == "." || seg == ".." || seg == "" {
						b.addf("%s: a path parameter must not be empty, \".\" or \"..\"", p.name)
					}
					sb.WriteString(seg)
					written = true
				}
				break
			}
		}
		if !written {
			sb.WriteString(escapeLiteralPath(rest[i : j+1]))
		}
		rest = rest[j+1:]
	}
	b.path = sb.String()
	if !strings.HasPrefix(b.path, "/") {
		b.path = "/" + b.path
	}
	// A literal query in the path key ("/responses?beta=true") is sent first.
	if q := strings.IndexByte(b.op.Path, '?'); q >= 0 {
		lit := b.op.Path[q+1:]
		if h := strings.IndexByte(lit, '#'); h >= 0 {
			lit = lit[:h]
		}
		for _, kv := range strings.Split(lit, "&") {
			if kv != "" {
				k, v, _ := strings.Cut(kv, "=")
				b.query = append(b.query, queryEscape(k)+"="+queryEscape(v))
			}
		}
	}
}

// pathValue encodes a path parameter as one segment: "a/b" → "a%2Fb" (simple, label, matrix).
func (b *builder) pathValue(p *param, v any) string {
	if p.jsonContent {
		return url.PathEscape(jsonText(v))
	}
	esc := url.PathEscape
	prefix, sep := "", ","
	switch p.style {
	case "label":
		prefix = "."
		if p.explode {
			sep = "."
		}
	case "matrix":
		prefix = ";" + esc(p.name) + "="
		if p.explode {
			sep = ";" + esc(p.name) + "="
		}
	}
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = esc(scalarText(e))
		}
		return prefix + strings.Join(parts, sep)
	case map[string]any:
		var parts []string
		for _, k := range sortedKeys(x) {
			if p.explode {
				if p.style == "matrix" {
					parts = append(parts, ";"+esc(k)+"="+esc(scalarText(x[k])))
				} else {
					parts = append(parts, esc(k)+"="+esc(scalarText(x[k])))
				}
			} else {
				parts = append(parts, esc(k), esc(scalarText(x[k])))
			}
		}
		if p.style == "matrix" && p.explode {
			return strings.Join(parts, "")
		}
		return prefix + strings.Join(parts, sep)
	}
	return prefix + esc(scalarText(v))
}

func (b *builder) encodeParams() {
	for i, p := range b.op.params {
		v, ok := b.params[i]
		if !ok || p.in == "path" {
			continue
		}
		switch p.in {
		case "query":
			b.query = append(b.query, b.unstripped("query", formPairs(p.name, p.style, p.explode, p.jsonContent, v))...)
		case "header":
			text := simpleText(p, v)
			if !validHeaderValue(text) {
				b.addf("%s: header value must not contain line breaks or control characters", p.name)
				continue
			}
			b.headers = append(b.headers, [2]string{p.name, text})
		case "cookie":
			b.cookies = append(b.cookies, b.unstripped("cookie", formPairs(p.name, "form", p.explode, p.jsonContent, v))...)
		}
	}
}

// unstripped drops pairs that an exploded object would send under a credential's name.
func (b *builder) unstripped(in string, pairs []string) []string {
	out := pairs[:0]
	for _, kv := range pairs {
		k, _, _ := strings.Cut(kv, "=")
		if name, err := url.QueryUnescape(k); err == nil && isStripped(b.strip, in, name) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// simpleText encodes a header value (style simple).
func simpleText(p *param, v any) string {
	if p.jsonContent {
		return jsonText(v)
	}
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = scalarText(e)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		var parts []string
		for _, k := range sortedKeys(x) {
			if p.explode {
				parts = append(parts, k+"="+scalarText(x[k]))
			} else {
				parts = append(parts, k, scalarText(x[k]))
			}
		}
		return strings.Join(parts, ",")
	}
	return scalarText(v)
}

// formPairs encodes one query parameter (or form field) per its style and explode (Q29):
//
//	form, explode (default)  tags=["x","y"]         → tags=x&tags=y
//	form, explode: false     ids=["a,b","c"]        → ids=a%2Cb,c
//	deepObject               filter={"status":"o"}  → filter[status]=o
//	form, explode, object    {"a":1,"b":2}          → a=1&b=2
//	spaceDelimited / pipeDelimited / tabDelimited arrays join with %20, | or %09.
func formPairs(name, style string, explode, jsonContent bool, v any) []string {
	k := queryEscape(name)
	if jsonContent {
		return []string{k + "=" + queryEscape(jsonText(v))}
	}
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return nil
		}
		items := make([]string, len(x))
		for i, e := range x {
			items[i] = queryEscape(scalarText(e))
		}
		if explode && style != "deepObject" {
			out := make([]string, len(items))
			for i, it := range items {
				out[i] = k + "=" + it
			}
			return out
		}
		sep := ","
		switch style {
		case "spaceDelimited":
			sep = "%20"
		case "pipeDelimited":
			sep = "|"
		case "tabDelimited":
			sep = "%09"
		}
		return []string{k + "=" + strings.Join(items, sep)}
	case map[string]any:
		if style == "deepObject" {
			return deepPairs(k, x, 0)
		}
		var out []string
		if explode {
			for _, pk := range sortedKeys(x) {
				out = append(out, formPairs(pk, "form", true, false, x[pk])...)
			}
			return out
		}
		var parts []string
		for _, pk := range sortedKeys(x) {
			parts = append(parts, queryEscape(pk), queryEscape(scalarText(x[pk])))
		}
		return []string{k + "=" + strings.Join(parts, ",")}
	}
	return []string{k + "=" + queryEscape(scalarText(v))}
}

func deepPairs(prefix string, m map[string]any, depth int) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		key := prefix + "[" + queryEscape(k) + "]"
		switch x := m[k].(type) {
		case map[string]any:
			if depth < 8 {
				out = append(out, deepPairs(key, x, depth+1)...)
				continue
			}
			out = append(out, key+"="+queryEscape(jsonText(x)))
		case []any:
			for _, e := range x {
				out = append(out, key+"="+queryEscape(scalarText(e)))
			}
		default:
			out = append(out, key+"="+queryEscape(scalarText(x)))
		}
	}
	return out
}

func (b *builder) encodeBody() {
	ob := b.op.body
	var v any = b.bodyVals
	if b.prep.whole {
		v = b.whole
	}
	switch ob.kind {
	case bodyJSON:
		data, err := json.Marshal(v)
		if err != nil {
			b.addf("requestBody: cannot be encoded as JSON")
			return
		}
		b.body, b.contentType = data, ob.contentType
	case bodyForm:
		if s, ok := v.(string); ok {
			b.body, b.contentType = []byte(s), ob.contentType
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			b.addf("requestBody: must be an object to be sent as a form")
			return
		}
		var pairs []string
		for _, k := range sortedKeys(m) {
			style, explode := b.fieldStyle(k)
			pairs = append(pairs, formPairs(k, style, explode, false, m[k])...)
		}
		b.body, b.contentType = []byte(strings.Join(pairs, "&")), ob.contentType
	case bodyMultipart:
		m, ok := v.(map[string]any)
		if !ok {
			b.addf("requestBody: must be an object to be sent as multipart/form-data")
			return
		}
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for _, k := range sortedKeys(m) {
			items := []any{m[k]}
			if list, ok := m[k].([]any); ok {
				items = list
			}
			for _, it := range items {
				switch it.(type) {
				case map[string]any, []any:
					h := make(map[string][]string)
					h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name="%s"`, escapeQuotes(k))}
					h["Content-Type"] = []string{"application/json"}
					pw, _ := w.CreatePart(h)
					_, _ = pw.Write([]byte(jsonText(it)))
				default:
					_ = w.WriteField(k, scalarText(it))
				}
			}
		}
		_ = w.Close()
		b.body, b.contentType = buf.Bytes(), w.FormDataContentType()
	case bodyRaw:
		if s, ok := v.(string); ok {
			b.body = []byte(s)
		} else {
			b.body = []byte(jsonText(v))
		}
		b.contentType = ob.contentType
	}
}

// fieldStyle is how a form field is encoded: its encoding entry (3.x) or its Swagger 2.0
// collectionFormat; arrays repeat the key by default.
func (b *builder) fieldStyle(name string) (string, bool) {
	ob := b.op.body
	if e, ok := ob.encoding[name]; ok {
		return e.style, e.explode
	}
	for _, fp := range ob.formParams {
		if fp.name == name {
			return fp.style, fp.explode
		}
	}
	return "form", true
}

func escapeQuotes(s string) string {
	return strings.NewReplacer("\\", "\\\\", `"`, "\\\"").Replace(s)
}

// scalarText writes a primitive as text; nested values are written as JSON.
func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case json.Number:
		return x.String()
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	}
	return jsonText(v)
}

func jsonText(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

// queryEscape escapes a query key or value; a space becomes %20 (RFC 3986), not "+".
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// escapeLiteralPath escapes the literal part of a path template, keeping "/" and the
// characters a path may contain unescaped (existing %XX escapes are kept).
func escapeLiteralPath(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			strings.IndexByte("-._~/:@!$&'()*+,;=", c) >= 0:
			sb.WriteByte(c)
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, "%%%02X", c)
		}
	}
	return sb.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// MaxArgumentValues is how many JSON values (counting every element of every
// array and object) the arguments of one call may hold. Validating costs
// memory per failing value; a model's tool call holds far fewer.
const MaxArgumentValues = 50_000

// countValues counts the JSON values in args, stopping at limit.
func countValues(args map[string]any, limit int) int {
	n := 0
	var walk func(any)
	walk = func(v any) {
		if n >= limit {
			return
		}
		n++
		switch v := v.(type) {
		case map[string]any:
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	for _, c := range args {
		walk(c)
	}
	return n
}

// capProblems keeps the first maxArgumentProblems problems, each at most
// maxProblemText bytes, and says in a last line that there are more (collect
// stops looking soon after the cap, so they are not counted).
func capProblems(list []string) []string {
	more := false
	if len(list) > maxArgumentProblems {
		more = true
		list = list[:maxArgumentProblems]
	}
	for i, p := range list {
		list[i] = cutText(p, maxProblemText)
	}
	if more {
		list = append(list, "… and more problems not listed")
	}
	return list
}

// maxProblemText is the longest one problem is shown.
const maxProblemText = 300

// cutText is s cut to at most n bytes at a character boundary, the cut marked
// with "…".
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func sortedUnique(list []string) []string {
	sort.Strings(list)
	out := list[:0]
	for i, s := range list {
		if i == 0 || s != list[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// validHeaderValue reports whether text can be sent as a header value: no
// control characters other than horizontal tab (RFC 9110 §5.5), so that a value
// cannot break the request or make the transport refuse it.
func validHeaderValue(text string) bool {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
