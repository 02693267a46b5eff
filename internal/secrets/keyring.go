package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Ciphertext format, version 1. Offsets and sizes in bytes; n is the
// plaintext length:
//
//	off  size  field
//	0    1     version, 1
//	1    8     ID of the master key that wrapped the data key
//	9    12    nonce for the wrapped data key
//	21   48    data key (32) sealed with AES-256-GCM under the master key,
//	           then its tag; additional data: bytes 0–8 (version and key ID)
//	69   12    nonce for the data
//	81   n+16  plaintext sealed with AES-256-GCM under the data key, then its
//	           tag; additional data: the version byte, then the caller's aad
//
// The data key is random and used once, for one plaintext. Nonces are random
// (crypto/cipher's NewGCMWithRandomNonce); a master key should wrap fewer
// than 2^32 data keys.
const (
	version    = 1
	gcmExtra   = 12 + 16 // nonce before, tag after
	headerLen  = 1 + idLen
	wrappedLen = keyLen + gcmExtra
	minLen     = headerLen + wrappedLen + gcmExtra
)

var (
	// ErrFormat means the ciphertext is truncated, garbled or of an unknown version.
	ErrFormat = errors.New("secrets: malformed ciphertext")
	// ErrUnknownKey means no key in the Keyring has the ID the ciphertext names.
	ErrUnknownKey = errors.New("secrets: ciphertext was sealed with a master key that is not in the keyring")
	// ErrDecrypt means authentication failed: wrong key, tampered ciphertext
	// or wrong additional data.
	ErrDecrypt = errors.New("secrets: cannot decrypt: wrong key, tampered ciphertext or wrong additional data")
)

// Keyring seals secrets under its primary master key and opens secrets
// sealed under any of its keys. Make one with NewKeyring; it is immutable
// and safe for concurrent use.
type Keyring struct {
	keys []Key // keys[0] is the primary
}

// NewKeyring returns a Keyring that seals under primary and can still open
// what old keys sealed. Duplicate keys are ignored. It panics if given a
// zero Key.
func NewKeyring(primary Key, old ...Key) *Keyring {
	r := new(Keyring)
	for _, k := range append([]Key{primary}, old...) {
		if !k.valid() {
			panic("secrets: NewKeyring given a zero Key")
		}
		if _, ok := r.key(k.id); !ok {
			r.keys = append(r.keys, k)
		}
	}
	return r
}

// Primary returns the ID of the key that seals new secrets.
func (r *Keyring) Primary() string { return r.keys[0].ID() }

// IDs returns the IDs of all keys, the primary first.
func (r *Keyring) IDs() []string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.ID()
	}
	return ids
}

// Seal encrypts plaintext under a fresh data key wrapped by the primary key.
// The same aad must be given to Open: bind it to the record (say, table,
// column and row ID) so a ciphertext copied to another record fails to open.
func (r *Keyring) Seal(plaintext []byte, aad string) ([]byte, error) {
	dek := make([]byte, keyLen)
	rand.Read(dek) // never fails since Go 1.24
	defer clear(dek)
	out, err := r.wrap(dek, len(plaintext)+gcmExtra)
	if err != nil {
		return nil, err
	}
	data, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	return data.Seal(out, nil, plaintext, dataAAD(aad)), nil
}

// Open decrypts a ciphertext from Seal or Rewrap, given the same aad. It
// fails with ErrFormat, ErrUnknownKey or ErrDecrypt.
func (r *Keyring) Open(ciphertext []byte, aad string) ([]byte, error) {
	dek, data, err := r.unwrap(ciphertext)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	g, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	plaintext, err := g.Open(nil, nil, data, dataAAD(aad))
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

// KeyID returns the ID of the master key that wrapped ciphertext's data key.
func (r *Keyring) KeyID(ciphertext []byte) (string, error) {
	id, err := parse(ciphertext)
	return hex.EncodeToString(id[:]), err
}

// Rewrap re-wraps ciphertext's data key under the primary key, for master
// key rotation. The encrypted data is copied unchanged, and not
// authenticated: Open still does that.
func (r *Keyring) Rewrap(ciphertext []byte) ([]byte, error) {
	dek, data, err := r.unwrap(ciphertext)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	out, err := r.wrap(dek, len(data))
	if err != nil {
		return nil, err
	}
	return append(out, data...), nil
}

// SealString seals a Secret; see Seal.
func (r *Keyring) SealString(s Secret, aad string) ([]byte, error) {
	return r.Seal([]byte(s.Reveal()), aad)
}

// OpenString opens a ciphertext from SealString; see Open.
func (r *Keyring) OpenString(ciphertext []byte, aad string) (Secret, error) {
	b, err := r.Open(ciphertext, aad)
	if err != nil {
		return Secret{}, err
	}
	defer clear(b)
	return New(string(b)), nil
}

// wrap returns the header and dek wrapped under the primary key, with room
// for extra more bytes.
func (r *Keyring) wrap(dek []byte, extra int) ([]byte, error) {
	k := r.keys[0]
	hdr := append([]byte{version}, k.id[:]...)
	g, err := newGCM(k.bytes())
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, headerLen+wrappedLen+extra)
	return g.Seal(append(out, hdr...), nil, dek, hdr), nil
}

// unwrap returns ciphertext's data key and the sealed data that follows it.
func (r *Keyring) unwrap(ciphertext []byte) (dek, data []byte, err error) {
	id, err := parse(ciphertext)
	if err != nil {
		return nil, nil, err
	}
	k, ok := r.key(id)
	if !ok {
		return nil, nil, fmt.Errorf("%w (key ID %x)", ErrUnknownKey, id)
	}
	g, err := newGCM(k.bytes())
	if err != nil {
		return nil, nil, err
	}
	dek, err = g.Open(nil, nil, ciphertext[headerLen:headerLen+wrappedLen], ciphertext[:headerLen])
	if err != nil {
		return nil, nil, fmt.Errorf("%w (data key, master key ID %x)", ErrDecrypt, id)
	}
	return dek, ciphertext[headerLen+wrappedLen:], nil
}

func (r *Keyring) key(id [idLen]byte) (Key, bool) {
	for _, k := range r.keys {
		if k.id == id {
			return k, true
		}
	}
	return Key{}, false
}

// parse checks the version and length of ciphertext and returns its key ID.
func parse(ciphertext []byte) ([idLen]byte, error) {
	if len(ciphertext) > 0 && ciphertext[0] != version {
		return [idLen]byte{}, fmt.Errorf("%w: unknown version %d", ErrFormat, ciphertext[0])
	}
	if len(ciphertext) < minLen {
		return [idLen]byte{}, fmt.Errorf("%w: %d bytes, want at least %d", ErrFormat, len(ciphertext), minLen)
	}
	return [idLen]byte(ciphertext[1:headerLen]), nil
}

func dataAAD(aad string) []byte { return append([]byte{version}, aad...) }

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(b)
}

const (
	checkPlaintext = "actiongate master key check v1"
	checkAAD       = "actiongate/secrets/check"
)

// ErrWrongMasterKey is returned by VerifyCheck when the keyring's keys are
// not the ones the stored data was sealed with.
var ErrWrongMasterKey = errors.New("the master key does not match the one this data was encrypted with")

// MakeCheck seals a fixed plaintext under k's primary key. Store it next to
// the data at first start and pass it to VerifyCheck at every start; after
// rotating the master key, store a new check or Rewrap the old one.
func MakeCheck(k *Keyring) ([]byte, error) { return k.Seal([]byte(checkPlaintext), checkAAD) }

// VerifyCheck returns nil if k opens check, a value from MakeCheck, and an
// error wrapping ErrWrongMasterKey if k does not hold the key that sealed it.
func VerifyCheck(k *Keyring, check []byte) error {
	plaintext, err := k.Open(check, checkAAD)
	switch {
	case errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrDecrypt):
		id, _ := k.KeyID(check)
		return fmt.Errorf("%w (data sealed with key %s; configured keys: %s)", ErrWrongMasterKey, id, strings.Join(k.IDs(), ", "))
	case err != nil:
		return fmt.Errorf("master key check: %w", err)
	case !bytes.Equal(plaintext, []byte(checkPlaintext)):
		return fmt.Errorf("master key check: %w: unexpected content", ErrFormat)
	}
	return nil
}
