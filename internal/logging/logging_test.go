package logging

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestRedactsByKeyAtAnyDepth(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		log := New(&buf, format, "debug")
		h := http.Header{"Authorization": {"Bearer s3cret-a"}, "X-Request-Id": {"r1"}}
		log.With("client_secret", "s3cret-b").Info("call",
			"access_token", "s3cret-c",
			slog.Group("req", "headers", h, "code", "s3cret-d", slog.Group("deep", "refresh_token", "s3cret-e")),
			"user", "u-1")
		out := buf.String()
		if strings.Contains(out, "s3cret") {
			t.Fatalf("%s: secret leaked: %s", format, out)
		}
		if !strings.Contains(out, "u-1") || !strings.Contains(out, "r1") {
			t.Fatalf("%s: non-secret values lost: %s", format, out)
		}
	}
}

func TestSensitive(t *testing.T) {
	for _, k := range []string{"Authorization", "cookie", "X-Api-Key", "refresh_token", "client_secret", "code", "code_verifier"} {
		if !Sensitive(k) {
			t.Errorf("%s should be sensitive", k)
		}
	}
	for _, k := range []string{"user", "action", "status", "Content-Type"} {
		if Sensitive(k) {
			t.Errorf("%s should not be sensitive", k)
		}
	}
}

func TestRedactsURLsInErrors(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "text", "info")
	_, err := http.Get("http://127.0.0.1:1/base/x?api_key=s3cret-q&x=1")
	if err == nil {
		t.Skip("something listens on port 1")
	}
	log.Info("request refused", "err", err, slog.Group("g", "cause", fmt.Errorf("wrapped: %w", err)))
	out := buf.String()
	if strings.Contains(out, "s3cret") {
		t.Fatalf("query secret leaked: %s", out)
	}
	if !strings.Contains(out, "127.0.0.1:1/base/x") {
		t.Fatalf("the URL without its query should stay: %s", out)
	}
}
