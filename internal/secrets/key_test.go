package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb}, keyLen) // encodes with '+' and '/' (std) or '-' and '_' (URL)
	short := base64.StdEncoding.EncodeToString(raw[:16])
	for _, tt := range []struct {
		name, in, err string
	}{
		{"std", base64.StdEncoding.EncodeToString(raw), ""},
		{"std raw", base64.RawStdEncoding.EncodeToString(raw), ""},
		{"url", base64.URLEncoding.EncodeToString(raw), ""},
		{"url raw", base64.RawURLEncoding.EncodeToString(raw), ""},
		{"whitespace", " \t" + base64.StdEncoding.EncodeToString(raw) + "\r\n", ""},
		{"empty", " \n", "empty"},
		{"not base64", strings.Repeat("*", 43), "not valid base64"},
		{"mixed alphabets", "+" + base64.RawURLEncoding.EncodeToString(raw)[1:], "not valid base64"},
		{"short", short, "is 16 bytes, want 32"},
		{"long", base64.StdEncoding.EncodeToString(append(raw, 1)), "is 33 bytes, want 32"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey(tt.in)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(k.bytes(), raw) {
					t.Errorf("key = %x, want %x", k.bytes(), raw)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.err)
			}
			if in := strings.TrimSpace(tt.in); in != "" && strings.Contains(err.Error(), in) {
				t.Errorf("error echoes the input: %v", err)
			}
		})
	}
}

func TestKeyEncodeAndID(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	back, err := ParseKey(k1.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.bytes(), k1.bytes()) || back.ID() != k1.ID() {
		t.Error("ParseKey(Encode()) differs from the key")
	}
	if len(k1.ID()) != 16 || k1.ID() == k2.ID() {
		t.Errorf("IDs %q, %q: want 16 hex digits, distinct", k1.ID(), k2.ID())
	}
	if (Key{}).Encode() != "" {
		t.Error("zero Key encodes to a non-empty string")
	}
}

func TestKeyNeverPrinted(t *testing.T) {
	k := mustKey(t)
	b := k.bytes()
	forms := []string{string(b), k.Encode(), fmt.Sprintf("%x", b), fmt.Sprint(b), fmt.Sprintf("%q", b)}
	type holder struct {
		Key Key
		key Key
	}
	h := holder{k, k}
	j, _ := json.Marshal(h)
	outs := []string{string(j)}
	for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%x", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, k), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h))
	}
	for _, out := range outs {
		for _, f := range forms {
			if strings.Contains(out, strings.Trim(f, "[]")) {
				t.Errorf("output reveals the key: %s", out)
			}
		}
	}
	if got, want := fmt.Sprint(k), "secrets.Key("+k.ID()+")"; got != want {
		t.Errorf("Sprint(key) = %q, want %q", got, want)
	}
}

func mustKey(t testing.TB) Key {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
