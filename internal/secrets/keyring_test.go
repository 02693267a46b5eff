package secrets

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var plaintext64 = bytes.Repeat([]byte("0123456789abcdef"), 4)

func TestSealOpen(t *testing.T) {
	r := NewKeyring(mustKey(t))
	for _, tt := range []struct {
		name      string
		plaintext []byte
		aad       string
	}{
		{"empty", nil, ""},
		{"64 bytes", plaintext64, "credentials/42/api_key"},
		{"binary", []byte{0, 1, 2, 0xff}, "x"},
		{"1 MiB", bytes.Repeat([]byte{7}, 1<<20), "big"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ct, err := r.Seal(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatal(err)
			}
			if want := minLen + len(tt.plaintext); len(ct) != want {
				t.Errorf("len(ciphertext) = %d, want %d", len(ct), want)
			}
			got, err := r.Open(ct, tt.aad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %q, want %q", got, tt.plaintext)
			}
			if _, err := r.Open(ct, tt.aad+"!"); !errors.Is(err, ErrDecrypt) {
				t.Errorf("Open with another aad: err = %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestSealString(t *testing.T) {
	r := NewKeyring(mustKey(t))
	ct, err := r.SealString(New(hunter2), "aad")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte(hunter2)) {
		t.Error("ciphertext contains the plaintext")
	}
	s, err := r.OpenString(ct, "aad")
	if err != nil || s.Reveal() != hunter2 {
		t.Errorf("OpenString = %q, %v; want %q", s.Reveal(), err, hunter2)
	}
}

func TestSealIsRandomized(t *testing.T) {
	r := NewKeyring(mustKey(t))
	seen := map[string]bool{}
	for range 100 {
		ct, err := r.Seal(plaintext64, "aad")
		if err != nil {
			t.Fatal(err)
		}
		// Each region after the key ID must differ: wrapped key, nonce, data.
		for _, part := range [][]byte{ct[headerLen : headerLen+wrappedLen], ct[headerLen+wrappedLen:]} {
			if seen[string(part)] {
				t.Fatal("two ciphertexts of the same plaintext share a region")
			}
			seen[string(part)] = true
		}
	}
}

// TestTamper flips each bit of a ciphertext in turn, then truncates and
// extends it: every change must fail to open, with the error of its region.
func TestTamper(t *testing.T) {
	r := NewKeyring(mustKey(t))
	ct, err := r.Seal(plaintext64, "aad")
	if err != nil {
		t.Fatal(err)
	}
	region := func(i int) error {
		switch {
		case i < 1:
			return ErrFormat // version
		case i < headerLen:
			return ErrUnknownKey // key ID
		}
		return ErrDecrypt // wrapped data key, nonce, data, tag
	}
	for i := range ct {
		for bit := range 8 {
			bad := bytes.Clone(ct)
			bad[i] ^= 1 << bit
			if _, err := r.Open(bad, "aad"); !errors.Is(err, region(i)) {
				t.Fatalf("bit %d of byte %d flipped: err = %v, want %v", bit, i, err, region(i))
			}
		}
	}
	for n := range len(ct) {
		want := ErrDecrypt
		if n < minLen {
			want = ErrFormat
		}
		if _, err := r.Open(ct[:n], "aad"); !errors.Is(err, want) {
			t.Fatalf("truncated to %d bytes: err = %v, want %v", n, err, want)
		}
	}
	if _, err := r.Open(append(bytes.Clone(ct), 0), "aad"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("extended: err = %v, want ErrDecrypt", err)
	}
}

func TestWrongKey(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	ct, err := NewKeyring(k1).Seal(plaintext64, "aad")
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewKeyring(k2).Open(ct, "aad")
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), k1.ID()) {
		t.Errorf("Open with another key: err = %v, want ErrUnknownKey naming %s", err, k1.ID())
	}
	// A different key claiming k1's ID must fail authentication, not
	// produce garbage.
	impostor := k2
	impostor.id = k1.id
	if _, err := NewKeyring(impostor).Open(ct, "aad"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Open with a key of the same ID: err = %v, want ErrDecrypt", err)
	}
}

func TestRotation(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	ct, err := NewKeyring(k1).Seal(plaintext64, "aad")
	if err != nil {
		t.Fatal(err)
	}
	both := NewKeyring(k2, k1, k2, k1) // duplicates are ignored
	if got, want := both.IDs(), []string{k2.ID(), k1.ID()}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("IDs = %v, want %v", got, want)
	}
	if both.Primary() != k2.ID() {
		t.Errorf("Primary = %s, want %s", both.Primary(), k2.ID())
	}
	mustOpen(t, both, ct)

	moved, err := both.Rewrap(ct)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := both.KeyID(moved); id != k2.ID() {
		t.Errorf("KeyID after Rewrap = %s, want %s", id, k2.ID())
	}
	if id, _ := both.KeyID(ct); id != k1.ID() {
		t.Errorf("KeyID before Rewrap = %s, want %s", id, k1.ID())
	}
	if !bytes.Equal(moved[headerLen+wrappedLen:], ct[headerLen+wrappedLen:]) {
		t.Error("Rewrap changed the encrypted data")
	}
	mustOpen(t, NewKeyring(k2), moved)
	if _, err := NewKeyring(k2).Rewrap(ct); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Rewrap without the old key: err = %v, want ErrUnknownKey", err)
	}
}

func TestKeyID(t *testing.T) {
	r := NewKeyring(mustKey(t))
	if _, err := r.KeyID([]byte{1, 2, 3}); !errors.Is(err, ErrFormat) {
		t.Errorf("KeyID of 3 bytes: err = %v, want ErrFormat", err)
	}
}

func TestNewKeyringZeroKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewKeyring(Key{}) did not panic")
		}
	}()
	NewKeyring(Key{})
}

func TestCheck(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	check, err := MakeCheck(NewKeyring(k1))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewKeyring(k1).Seal([]byte("something else"), checkAAD)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		ring  *Keyring
		check []byte
		want  error
	}{
		{"same key", NewKeyring(k1), check, nil},
		{"old key still in ring", NewKeyring(k2, k1), check, nil},
		{"wrong key", NewKeyring(k2), check, ErrWrongMasterKey},
		{"garbled", NewKeyring(k1), check[:10], ErrFormat},
		{"other content", NewKeyring(k1), other, ErrFormat},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyCheck(tt.ring, tt.check)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == ErrWrongMasterKey && !strings.Contains(err.Error(), k1.ID()) {
				t.Errorf("error %q does not name the key the data needs", err)
			}
		})
	}
}

func mustOpen(t *testing.T, r *Keyring, ct []byte) {
	t.Helper()
	got, err := r.Open(ct, "aad")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plaintext64) {
		t.Fatalf("Open = %q, want %q", got, plaintext64)
	}
}

func FuzzOpen(f *testing.F) {
	r := NewKeyring(mustKey(f))
	ct, err := r.Seal(plaintext64, "aad")
	if err != nil {
		f.Fatal(err)
	}
	unknown, _ := NewKeyring(mustKey(f)).Seal(plaintext64, "aad")
	f.Add(ct, "aad")
	f.Add(ct, "other")
	f.Add(unknown, "aad")
	f.Add([]byte{}, "")
	f.Add([]byte{version}, "")
	f.Add([]byte{2}, "")
	f.Add(ct[:minLen-1], "aad")
	f.Add(ct[:minLen], "aad")
	f.Add(append(bytes.Clone(ct), 0), "aad")
	f.Add(bytes.Repeat([]byte{version}, 200), "aad")
	f.Fuzz(func(t *testing.T, ct []byte, aad string) {
		plaintext, err := r.Open(ct, aad)
		if err != nil && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrDecrypt) {
			t.Fatalf("Open: unexpected error %v", err)
		}
		if _, kerr := r.KeyID(ct); (kerr == nil) != (len(ct) >= minLen && ct[0] == version) {
			t.Fatalf("KeyID: err = %v for %d bytes", kerr, len(ct))
		}
		// Rewrap must not change what Open makes of a ciphertext.
		moved, rerr := r.Rewrap(ct)
		if rerr != nil {
			return
		}
		again, err2 := r.Open(moved, aad)
		if (err == nil) != (err2 == nil) || !bytes.Equal(plaintext, again) {
			t.Fatalf("Open after Rewrap = %q, %v; before = %q, %v", again, err2, plaintext, err)
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	r := NewKeyring(mustKey(b))
	b.SetBytes(int64(len(plaintext64)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Seal(plaintext64, "aad"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	r := NewKeyring(mustKey(b))
	ct, err := r.Seal(plaintext64, "aad")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(plaintext64)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Open(ct, "aad"); err != nil {
			b.Fatal(err)
		}
	}
}
