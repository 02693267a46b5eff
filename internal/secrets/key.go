package secrets

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

const (
	keyLen = 32 // AES-256
	idLen  = 8
)

// Key is a 256-bit master key (key-encryption key). It has no printable
// form: fmt prints only its ID, and its material is held in a Secret, so
// not even fmt's printing of unexported fields reveals it. The zero Key is
// not a valid key.
type Key struct {
	m  Secret
	id [idLen]byte
}

func newKey(b []byte) Key {
	sum := sha256.Sum256(append([]byte("actiongate secrets key id v1\x00"), b...))
	return Key{m: New(string(b)), id: [idLen]byte(sum[:idLen])}
}

func (k Key) bytes() []byte { return []byte(k.m.Reveal()) }

// GenerateKey returns a new random Key.
func GenerateKey() (Key, error) {
	b := make([]byte, keyLen)
	defer clear(b)
	if _, err := rand.Read(b); err != nil {
		return Key{}, err
	}
	return newKey(b), nil
}

// ParseKey parses the standard or URL-safe base64 encoding, padded or not,
// of a 32-byte key. Surrounding whitespace is ignored. Errors never contain
// the input.
func ParseKey(s string) (Key, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if s == "" {
		return Key{}, errors.New("secrets: master key is empty")
	}
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return Key{}, errors.New("secrets: master key is not valid base64")
	}
	defer clear(b)
	if len(b) != keyLen {
		return Key{}, fmt.Errorf("secrets: master key is %d bytes, want %d (generate one with: openssl rand -base64 32)", len(b), keyLen)
	}
	return newKey(b), nil
}

// Encode returns the key in standard base64, as ParseKey reads it, or ""
// for the zero Key.
func (k Key) Encode() string {
	if !k.valid() {
		return ""
	}
	return base64.StdEncoding.EncodeToString(k.bytes())
}

// ID identifies the key without revealing it: the first 8 bytes, in hex, of
// SHA-256 over a fixed label and the key.
func (k Key) ID() string { return hex.EncodeToString(k.id[:]) }

// Format prints the key's ID, never its material.
func (k Key) Format(f fmt.State, verb rune) { fmt.Fprintf(f, "secrets.Key(%s)", k.ID()) }

func (k Key) valid() bool { return !k.m.IsZero() }
