package server

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/actiongate/actiongate/internal/apierr"
)

// TestDecodeErrorsNameTheProblem: malformed bodies are answered with what is
// wrong, and nothing the caller sent is echoed at length.
func TestDecodeErrorsNameTheProblem(t *testing.T) {
	type target struct {
		Name      string         `json:"name"`
		ExpiresIn int64          `json:"expires_in"`
		Rate      float64        `json:"rate"`
		Arguments map[string]any `json:"arguments"`
	}
	huge := strings.Repeat("9", 100_000)
	tests := []struct{ body, want string }{
		{`{"name": "x",}`, `malformed JSON at byte 14: invalid character '}' looking for beginning of object key string`},
		{`{"name": "x"`, `the JSON ends too early`},
		{`{"arguments": ` + strings.Repeat(`[`, 20_000) + strings.Repeat(`]`, 20_000) + `}`, `exceeded max depth`},
		{`{"expires_in": 1.5}`, `expires_in: must be a whole number in range, not 1.5`},
		{`{"expires_in": 1` + huge + `}`, `expires_in: must be a whole number in range, not 1` + strings.Repeat("9", 39) + `…`},
		{`{"rate": 1e400}`, `rate: 1e400 is out of range`},
		{`{"name": 5}`, `name: must be a string, not number`},
		{`{"nmae": "x"}`, `unknown field "nmae"`},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("POST", "/v1/x", strings.NewReader(tc.body))
		var v target
		err := decode(r, &v)
		e := apierr.From(err)
		if e.Code != apierr.InvalidRequest || !strings.Contains(e.Message, tc.want) || len(e.Message) > 200 {
			t.Errorf("%.40s…: %s %q, want %q", tc.body, e.Code, e.Message, tc.want)
		}
	}
}

// TestCheckQueryAgreesWithParseQuery: checkQuery refuses exactly the query
// strings url.ParseQuery cannot read whole.
func TestCheckQueryAgreesWithParseQuery(t *testing.T) {
	for _, q := range []string{"", "a=1&b=2", "a=%41", "a=%4", "a=%", "%zz=1", "a=1;b=2", "a=%3B", "a=1&&b", "x=%e2%82%ac", "a=%4g", "q=a+b", "=1", "a=%%41"} {
		_, perr := url.ParseQuery(q)
		cerr := checkQuery(q)
		if (perr == nil) != (cerr == nil) {
			t.Errorf("%q: ParseQuery %v, checkQuery %v", q, perr, cerr)
		}
	}
}
