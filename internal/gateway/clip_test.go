package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClipKeepsCharactersWhole(t *testing.T) {
	got := clip(strings.Repeat("é", 300))
	if !utf8.ValidString(got) || utf8.RuneCountInString(got) != 201 || !strings.HasSuffix(got, "…") {
		t.Fatalf("clip: %d runes, valid %v", utf8.RuneCountInString(got), utf8.ValidString(got))
	}
	if clip("short") != "short" {
		t.Fatal("clip changed a short string")
	}
}
