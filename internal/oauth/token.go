package oauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/actiongate/actiongate/internal/secrets"
)

// Token is what a token endpoint issued, normalised. It never keeps the raw
// response: a provider's extra fields can hold more credentials.
type Token struct {
	AccessToken secrets.Secret
	// RefreshToken is zero when the response carried none: on refresh the
	// caller keeps the one it has (Q08); after a sign-in there is none.
	RefreshToken secrets.Secret
	// TokenType is always "Bearer" (Q07): tokens of any other type are
	// refused with ErrUnsupportedTokenType.
	TokenType string
	// Scope is the granted scope, space-separated whatever delimiter the
	// provider used (Q20). When the response names no scope it is the scope
	// requested (for a refresh: the scope granted before).
	Scope string
	// ExpiresAt is when the access token expires, counted from the moment
	// the request was sent (Q14). Zero means unknown: expires_in absent,
	// null, "", 0, negative or unreadable (Q05, Q06).
	ExpiresAt time.Time
}

// Client calls token and revocation endpoints. The zero value is not usable:
// HTTP must be set. A Client is safe for concurrent use.
type Client struct {
	// HTTP sends every request. The caller passes a client that guards
	// destinations (private networks and the like); this package adds no
	// such check. Redirects are never followed: a token endpoint does not
	// redirect, and following one would resend credentials elsewhere.
	HTTP *http.Client
	// UserAgent is sent on every provider call (Q15); DefaultUserAgent when
	// empty.
	UserAgent string
	// Now is the clock used for ExpiresAt; time.Now when nil.
	Now func() time.Time
}

// maxResponseSize caps how much of a token or revocation response is read.
const maxResponseSize = 1 << 20

// maxExpiresIn is the longest lifetime taken at face value; anything longer
// is treated as "never expires", i.e. unknown (Q06).
const maxExpiresIn = 10 * 365 * 24 * time.Hour

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) userAgent() string { return orDefault(c.UserAgent, DefaultUserAgent) }

// response is a provider's raw answer; it stays inside this package.
type response struct {
	status      int
	contentType string
	body        []byte
	sentAt      time.Time
}

// post sends one request to endpoint (token or revocation) with params and
// the client authentication cfg.ExchangeMethod names, encoded as
// cfg.ContentType. It makes exactly one attempt (Q18).
//
// The requests are made by hand rather than with x/oauth2, which cannot send
// JSON bodies (Q19), auto-detects and retries client authentication (Q18)
// and has no hook to read nested or odd token fields (Q03–Q07).
func (c *Client) post(ctx context.Context, cfg *Config, endpoint string, params map[string]string) (*response, error) {
	if c.HTTP == nil {
		return nil, errors.New("no HTTP client configured")
	}
	if endpoint == "" {
		return nil, errors.New("no endpoint URL configured")
	}
	method, ctype := cfg.exchangeMethod(), cfg.contentType()

	var basic string
	switch method {
	case ExchangeMethodPost:
		params["client_id"] = cfg.ClientID
		if !cfg.ClientSecret.IsZero() {
			params["client_secret"] = cfg.ClientSecret.Reveal()
		}
	case ExchangeMethodBasic:
		// RFC 6749 §2.3.1: form-urlencode both before base64 (Q17), which
		// http.Request.SetBasicAuth does not do; and nothing in the body (Q16).
		basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(
			url.QueryEscape(cfg.ClientID)+":"+url.QueryEscape(cfg.ClientSecret.Reveal())))
	default:
		return nil, fmt.Errorf("token_exchange_method %q is not supported", method)
	}

	var body []byte
	switch ctype {
	case ContentTypeForm:
		v := make(url.Values, len(params))
		for k, p := range params {
			v.Set(k, p)
		}
		body = []byte(v.Encode())
	case ContentTypeJSON:
		var err error
		if body, err = json.Marshal(params); err != nil {
			return nil, errors.New("cannot encode the request as JSON")
		}
	default:
		return nil, fmt.Errorf("authorization_content_type %q is not supported", ctype)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json") // Q01
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", c.userAgent())
	if basic != "" {
		req.Header.Set("Authorization", basic)
	}

	hc := *c.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	sentAt := c.now()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &transportError{err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return nil, &transportError{err}
	}
	if len(data) > maxResponseSize {
		if resp.StatusCode/100 != 2 {
			return nil, &Error{StatusCode: resp.StatusCode, Transient: transientStatus(resp.StatusCode)}
		}
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidResponse, maxResponseSize)
	}
	return &response{
		status:      resp.StatusCode,
		contentType: resp.Header.Get("Content-Type"),
		body:        data,
		sentAt:      sentAt,
	}, nil
}

// token sends a token request and parses the answer; fallbackScope is the
// granted scope when the answer names none; scrub lists the credentials in
// the request, to keep them out of error descriptions.
func (c *Client) token(ctx context.Context, cfg *Config, params map[string]string, fallbackScope string, scrub []string) (*Token, error) {
	resp, err := c.post(ctx, cfg, cfg.TokenURL, params)
	if err != nil {
		return nil, err
	}
	return parseTokenResponse(resp, cfg.TokenPaths, fallbackScope, append(scrub, cfg.ClientSecret.Reveal()))
}

// parseTokenResponse turns a token endpoint answer into a Token or an error.
// It reads JSON or form-encoded bodies whatever the Content-Type says (Q01).
func parseTokenResponse(resp *response, paths TokenPaths, fallbackScope string, scrub []string) (*Token, error) {
	fields, decodeErr := decodeBody(resp.body, resp.contentType)
	if resp.status/100 != 2 {
		return nil, errorFromFields(fields, resp.status, scrub)
	}
	if decodeErr != nil {
		return nil, decodeErr
	}
	if err := errorIn200(fields, resp.status, scrub); err != nil {
		return nil, err
	}

	at, _ := stringAt(fields, paths.accessToken())
	if at == "" {
		return nil, fmt.Errorf("%w: no access token at %q", ErrInvalidResponse, paths.accessToken())
	}

	// token_type sits next to the access token (Slack nests both, Q03).
	typ, found := lookup(fields, siblingPath(paths.accessToken(), "token_type"))
	if !found {
		typ, _ = lookup(fields, "token_type")
	}
	tokenType, err := normalizeTokenType(typ)
	if err != nil {
		return nil, err
	}

	rt, _ := stringAt(fields, paths.refreshToken())

	tok := &Token{
		AccessToken: secrets.New(at),
		TokenType:   tokenType,
		Scope:       normalizeScope(fallbackScope),
	}
	if rt != "" {
		tok.RefreshToken = secrets.New(rt)
	}
	if v, ok := lookup(fields, paths.expiresIn()); ok {
		if d, ok := parseExpiresIn(v); ok {
			tok.ExpiresAt = resp.sentAt.Add(d)
		}
	}
	if v, ok := lookup(fields, paths.scope()); ok {
		if s := scopeString(v); s != "" {
			tok.Scope = s
		}
	}
	return tok, nil
}

// decodeBody reads a JSON object or a form-encoded body. A body that starts
// with "{" is JSON; anything else is form-encoded unless the Content-Type
// claims JSON.
func decodeBody(body []byte, contentType string) (map[string]any, error) {
	trimmed := bytes.TrimSpace(body)
	mediaType, _, _ := mime.ParseMediaType(contentType)
	isJSON := mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
	if bytes.HasPrefix(trimmed, []byte("{")) {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("%w: malformed JSON", ErrInvalidResponse)
		}
		return m, nil
	}
	if isJSON || len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidResponse)
	}
	values, err := url.ParseQuery(string(trimmed))
	if err != nil || len(values) == 0 {
		return nil, fmt.Errorf("%w: neither JSON nor form-encoded", ErrInvalidResponse)
	}
	m := make(map[string]any, len(values))
	for k, v := range values {
		m[k] = v[0]
	}
	return m, nil
}

// errorIn200 finds an error reported with a success status (Q02): an
// "error" field, or Slack's "ok": false.
func errorIn200(fields map[string]any, status int, scrub []string) error {
	if v, ok := fields["error"]; ok && !isEmpty(v) {
		return errorFromFields(fields, status, scrub)
	}
	if ok, present := fields["ok"]; present && (ok == false || ok == "false") {
		return errorFromFields(fields, status, scrub)
	}
	return nil
}

// errorFromFields builds an *Error from an error answer; fields may be nil
// when the body could not be read.
func errorFromFields(fields map[string]any, status int, scrub []string) *Error {
	e := &Error{StatusCode: status}
	if code, ok := fields["error"].(string); ok {
		e.Code = sanitizeCode(code)
	}
	if desc, ok := fields["error_description"].(string); ok {
		e.Description = sanitizeDescription(desc, scrub)
	}
	e.Transient = transientStatus(status) || transientCode(e.Code)
	return e
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	}
	return false
}

// lookup finds path in fields: through nested objects split on dots, then
// as a literal key. A null value counts as absent.
func lookup(fields map[string]any, path string) (any, bool) {
	var cur any = fields
	for seg := range strings.SplitSeq(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			cur = nil
			break
		}
		cur = obj[seg]
	}
	if cur == nil {
		cur = fields[path]
	}
	return cur, cur != nil
}

// stringAt returns the string at path; numbers are taken as their text.
func stringAt(fields map[string]any, path string) (string, bool) {
	v, ok := lookup(fields, path)
	if !ok {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// siblingPath replaces the last segment of path with name.
func siblingPath(path, name string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i+1] + name
	}
	return name
}

// normalizeTokenType maps the token_type field to "Bearer" (Q07). Absent,
// empty and "bearer" in any case are Bearer; so are Slack's "bot" and "user"
// (Slack tokens are sent as Bearer). Anything else — mac, DPoP, N_A — is
// refused: sending it as a Bearer token would fail or be insecure.
func normalizeTokenType(v any) (string, error) {
	if v == nil {
		return "Bearer", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: token_type is not a string", ErrUnsupportedTokenType)
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "bearer", "bot", "user":
		return "Bearer", nil
	}
	name := sanitizeCode(s)
	if name == "" {
		name = "(unprintable)"
	}
	return "", fmt.Errorf("%w %q: only Bearer tokens can be used", ErrUnsupportedTokenType, name)
}

// parseExpiresIn reads expires_in as a number, a float or a numeric string
// (Q04). It reports false for an unknown expiry: null, "", 0, negative,
// non-numeric or absurdly long (Q05, Q06).
func parseExpiresIn(v any) (time.Duration, bool) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
	case float64:
		s = strconv.FormatFloat(v, 'g', -1, 64)
	default:
		return 0, false
	}
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(secs) || secs <= 0 || secs > maxExpiresIn.Seconds() {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// scopeString normalises a scope field: a delimited string or, as a few
// providers send, a JSON array of strings.
func scopeString(v any) string {
	switch v := v.(type) {
	case string:
		return normalizeScope(v)
	case []any:
		parts := make([]string, 0, len(v))
		for _, p := range v {
			if s, ok := p.(string); ok {
				parts = append(parts, s)
			}
		}
		return normalizeScope(strings.Join(parts, " "))
	}
	return ""
}
