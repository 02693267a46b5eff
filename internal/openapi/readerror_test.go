package openapi

import (
	"strings"
	"testing"
)

// TestUnreadableDocumentsSayWhatToFix: what libopenapi refuses before our own
// checks run is reported in words that say what is wrong.
func TestUnreadableDocumentsSayWhatToFix(t *testing.T) {
	for doc, want := range map[string]string{
		`{"info":{"title":"x"}}`:                              `neither "openapi" nor "swagger" is declared`,
		`{"openapi":"2.5.0","info":{"title":"x"},"paths":{}}`: `"openapi" version is not supported (3.0, 3.1 or Swagger 2.0)`,
		"this is just text":                                   "not a JSON or YAML object",
		"- a\n- b\n":                                          "not a JSON or YAML object",
	} {
		_, err := Parse([]byte(doc), "")
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "libopenapi") {
			t.Errorf("%q: %v, want %q", doc, err, want)
		}
	}
}
