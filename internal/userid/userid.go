// Package userid checks end-user ids, the strings a platform names its users
// by. Every way in (the /v1 API, MCP, the console, API tokens) checks them the
// same way, so that what is stored, logged and shown is what was meant.
package userid

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/actiongate/actiongate/internal/apierr"
)

// MaxLen bounds an end user's id, in bytes.
const MaxLen = 256

// Check refuses ids longer than MaxLen bytes, not valid UTF-8, with control
// characters, or with the replacement character U+FFFD, with an
// invalid_request naming the field "user". The empty id
// is left to the caller (optional for some actions).
func Check(user string) error {
	switch {
	case len(user) > MaxLen:
		return apierr.New(apierr.InvalidRequest, "user: longer than %d bytes", MaxLen)
	case !utf8.ValidString(user):
		return apierr.New(apierr.InvalidRequest, "user: not valid UTF-8")
	case strings.IndexFunc(user, unicode.IsControl) >= 0:
		return apierr.New(apierr.InvalidRequest, "user: contains control characters")
	case strings.ContainsRune(user, utf8.RuneError):
		// What a JSON decoder makes of invalid UTF-8 and lone surrogates
		// ("\udc00"): distinct ids would become one.
		return apierr.New(apierr.InvalidRequest, "user: contains U+FFFD (invalid UTF-8 or a lone surrogate in the JSON?)")
	}
	return nil
}
