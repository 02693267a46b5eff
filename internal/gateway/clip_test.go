package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/actiongate/actiongate/internal/secrets"
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

func TestMaskBodyAcrossReads(t *testing.T) {
	key := "sk-live-0123456789"
	body := "start " + key + " middle " + url.QueryEscape("a b&"+key) + " " + key + " end"
	for _, oneByte := range []bool{false, true} {
		var r io.Reader = strings.NewReader(body)
		if oneByte {
			r = iotest.OneByteReader(r) // every form straddles reads
		}
		resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(r)}
		maskBody(resp, credentialForms(secrets.New(key)))
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if oneByte { // and a caller reading one byte at a time
			resp = &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
			maskBody(resp, credentialForms(secrets.New(key)))
			again, err := io.ReadAll(iotest.OneByteReader(resp.Body))
			if err != nil || string(again) != string(got) {
				t.Fatalf("one byte at a time: %q %v, want %q", again, err, got)
			}
		}
		if len(got) != len(body) || strings.Contains(string(got), "0123456789") || !strings.HasPrefix(string(got), "start ***") || !strings.HasSuffix(string(got), " end") {
			t.Fatalf("one byte %v: %q", oneByte, got)
		}
	}
	// A compressed body cannot be searched: it passes as it is.
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Encoding": {"gzip"}}, Body: io.NopCloser(strings.NewReader(key))}
	maskBody(resp, credentialForms(secrets.New(key)))
	if got, _ := io.ReadAll(resp.Body); string(got) != key {
		t.Fatalf("gzip body changed: %q", got)
	}
}

func TestMaskBodyDoesNotHoldBackStreams(t *testing.T) {
	pr, pw := io.Pipe()
	resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: pr}
	maskBody(resp, credentialForms(secrets.New("sk-live-0123456789")))
	go pw.Write([]byte("data: one\n\n"))
	buf := make([]byte, 64)
	n, err := resp.Body.Read(buf) // would block for ever if the event were held back
	if err != nil || string(buf[:n]) != "data: one\n\n" {
		t.Fatalf("%q %v", buf[:n], err)
	}
	// A tail that may start the key is held until the next read decides.
	go pw.Write([]byte("x sk-li"))
	n, _ = resp.Body.Read(buf)
	if string(buf[:n]) != "x " {
		t.Fatalf("%q", buf[:n])
	}
	go func() { pw.Write([]byte("ve-0123456789 y")); pw.Close() }()
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "****************** y" {
		t.Fatalf("%q", rest)
	}
}

// TestEchoesInJSONSpellings: the credential as JSON encoders write it inside a
// string is found too, by invoke's redaction and the proxy's mask.
func TestEchoesInJSONSpellings(t *testing.T) {
	for key, echo := range map[string]string{
		`a<b>c&d1234567`:     `{"k":"a\u003cb\u003ec\u0026d1234567"}`, // Go's encoding/json
		`quo"te\key/abc+def`: `{"k":"quo\"te\\key/abc+def"}`,
		`ключ-ключ-ключ`:     `{"k":"\u043a\u043b\u044e\u0447-\u043a\u043b\u044e\u0447-\u043a\u043b\u044e\u0447"}`, // Python's ensure_ascii
		`sk/ab+cd/ef==1234`:  `{"k":"sk\/ab+cd\/ef==1234"}`,                                                        // PHP
		`🔑-secret-key-1`:     `{"k":"\uD83D\uDD11-secret-key-1"}`,
	} {
		r := &Result{Body: json.RawMessage(echo), Headers: map[string]string{}}
		scrubResult(r, credentialForms(secrets.New(key)))
		if b, _ := json.Marshal(r.Body); string(b) != `{"k":"[redacted]"}` {
			t.Errorf("invoke, key %q: %s", key, b)
		}
		resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Encoding": {"none"}}, Body: io.NopCloser(strings.NewReader(echo))}
		maskBody(resp, credentialForms(secrets.New(key)))
		got, _ := io.ReadAll(resp.Body)
		if len(got) != len(echo) || !strings.HasPrefix(string(got), `{"k":"**`) || !strings.HasSuffix(string(got), `*"}`) {
			t.Errorf("proxy, key %q: %s", key, got)
		}
	}
}
