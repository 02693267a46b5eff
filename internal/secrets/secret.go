package secrets

import (
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

const redacted = "[redacted]"

var (
	_ fmt.Stringer           = Secret{}
	_ fmt.GoStringer         = Secret{}
	_ fmt.Formatter          = Secret{}
	_ slog.LogValuer         = Secret{}
	_ json.Marshaler         = Secret{}
	_ encoding.TextMarshaler = Secret{}
)

// Secret is a string that is never revealed by accident: printing it with
// fmt, logging it with slog or marshalling it as JSON or text all give
// "[redacted]". Use Reveal where the value is really needed.
//
// The value sits behind a pointer so that even fmt, which cannot call
// methods on unexported struct fields, prints only an address.
type Secret struct{ v *string }

// New returns a Secret holding s.
func New(s string) Secret { return Secret{&s} }

// Reveal returns the secret value.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

// String, GoString, LogValue, MarshalJSON and MarshalText give "[redacted]".
func (Secret) String() string   { return redacted }
func (Secret) GoString() string { return redacted }

// Format prints "[redacted]" for every verb, quoted for %q.
func (Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		io.WriteString(f, strconv.Quote(redacted))
		return
	}
	io.WriteString(f, redacted)
}

func (Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(redacted)), nil }
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
