package userid

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, ok := range []string{"", "u-123", "ålice@example.com", strings.Repeat("x", MaxLen)} {
		if err := Check(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		strings.Repeat("x", MaxLen+1): "longer than 256 bytes",
		"bad\xff":                     "not valid UTF-8",
		"line\nbreak":                 "control characters",
		"del\x7f":                     "control characters",
		"c1\u0085":                    "control characters",
		"u\ufffdx":                    "U+FFFD",
	} {
		if err := Check(bad); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "user:") {
			t.Errorf("%q: %v, want %q", bad, err, want)
		}
	}
}
