package secrets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const hunter2 = "hunter2-s3cr3t"

func TestSecretNeverPrinted(t *testing.T) {
	s := New(hunter2)
	type Config struct {
		Token   Secret
		private Secret
		Ptr     *Secret
	}
	c := Config{Token: s, private: s, Ptr: &s}
	for _, verb := range []string{"%v", "%s", "%q", "%+v", "%#v", "%x", "%X", "%d", "%10s", "%T"} {
		for name, v := range map[string]any{"value": s, "pointer": &s, "struct": c, "struct pointer": &c} {
			if got := fmt.Sprintf(verb, v); strings.Contains(got, hunter2) || strings.Contains(got, fmt.Sprintf("%x", hunter2)) {
				t.Errorf("Sprintf(%q, %s) = %q reveals the secret", verb, name, got)
			}
		}
	}
	if got := fmt.Sprint(s); got != "[redacted]" {
		t.Errorf("Sprint = %q, want [redacted]", got)
	}
	if got := fmt.Sprintf("%q", s); got != `"[redacted]"` {
		t.Errorf("%%q = %s, want \"[redacted]\"", got)
	}

	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("msg", "secret", s, "config", c, "ptr", &s)
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	txt, _ := s.MarshalText()
	for _, out := range []string{buf.String(), string(j), string(txt), s.String(), s.GoString()} {
		if strings.Contains(out, hunter2) {
			t.Errorf("output reveals the secret: %s", out)
		}
	}
	if want := `{"Token":"[redacted]","Ptr":"[redacted]"}`; string(j) != want {
		t.Errorf("json.Marshal = %s, want %s", j, want)
	}
}

func TestSecretReveal(t *testing.T) {
	if got := New(hunter2).Reveal(); got != hunter2 {
		t.Errorf("Reveal = %q, want %q", got, hunter2)
	}
	for _, tt := range []struct {
		s    Secret
		zero bool
	}{{Secret{}, true}, {New(""), true}, {New("x"), false}} {
		if tt.s.IsZero() != tt.zero {
			t.Errorf("%q IsZero = %v, want %v", tt.s.Reveal(), !tt.zero, tt.zero)
		}
	}
}
