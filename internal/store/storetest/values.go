package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testClose(t *testing.T, s store.Store) {
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after Close: no error, want one")
	}
}

func testMeta(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetMeta(ctx, "key_check")
	wantErr(t, "GetMeta(missing)", err, store.ErrNotFound)

	put := func(key string, value []byte) {
		t.Helper()
		if err := s.PutMeta(ctx, key, value); err != nil {
			t.Fatalf("PutMeta(%q): %v", key, err)
		}
	}
	get := func(key string, want []byte) {
		t.Helper()
		got, err := s.GetMeta(ctx, key)
		if err != nil {
			t.Fatalf("GetMeta(%q): %v", key, err)
		}
		if !bytes.Equal(got, want) || (want == nil && got != nil) {
			t.Errorf("GetMeta(%q) = %#v, want %#v", key, got, want)
		}
	}
	put("key_check", []byte("v1"))
	put("admin_token_hash", []byte{0, 1, 2, 0xff})
	get("key_check", []byte("v1"))
	get("admin_token_hash", []byte{0, 1, 2, 0xff})

	put("key_check", []byte("v2"))
	get("key_check", []byte("v2"))
	get("admin_token_hash", []byte{0, 1, 2, 0xff})

	// A key set to nothing exists: it is not ErrNotFound.
	put("empty", nil)
	get("empty", nil)
	put("empty", []byte{})
	get("empty", nil)
}

// allBytes is every byte value, NUL and invalid UTF-8 included.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func testBytes(t *testing.T, s store.Store) {
	ctx := t.Context()
	tests := []struct {
		name  string
		in    []byte
		want  []byte
		other []byte // for the fields that must not be empty
	}{
		{"binary", allBytes(), allBytes(), allBytes()},
		{"nil", nil, nil, []byte{0}},
		{"empty", []byte{}, nil, []byte{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAction("a-"+tc.name, t0)
			a.AuthConfig, a.Secret = tc.in, tc.in
			mustCreateAction(t, s, a)
			got, err := s.GetAction(ctx, a.ID)
			if err != nil {
				t.Fatalf("GetAction: %v", err)
			}
			a.AuthConfig, a.Secret = tc.want, tc.want
			checkEqual(t, "GetAction", got, a)

			c := newConnection(a.ID, "alice")
			c.AccessToken, c.RefreshToken = tc.other, tc.in
			mustPutConnection(t, s, c)
			gotc, err := s.GetConnection(ctx, a.ID, "alice")
			if err != nil {
				t.Fatalf("GetConnection: %v", err)
			}
			c.RefreshToken = tc.want
			checkEqual(t, "GetConnection", gotc, c)

			st := newSignInState("h-"+tc.name, a.ID, t0)
			st.Verifier = tc.in
			mustPutSignInState(t, s, st)
			gots, err := s.TakeSignInState(ctx, st.Hash)
			if err != nil {
				t.Fatalf("TakeSignInState: %v", err)
			}
			st.Verifier = tc.want
			checkEqual(t, "TakeSignInState", gots, st)
		})
	}

	// The store keeps no reference to the caller's slices, nor hands out its own.
	t.Run("copies", func(t *testing.T) {
		a := newAction("a-copies", t0)
		secret := []byte("sealed")
		a.Secret = secret
		mustCreateAction(t, s, a)
		secret[0] = 'X'
		got, err := s.GetAction(ctx, a.ID)
		if err != nil {
			t.Fatalf("GetAction: %v", err)
		}
		got.Secret[1] = 'X'
		got, err = s.GetAction(ctx, a.ID)
		if err != nil {
			t.Fatalf("GetAction: %v", err)
		}
		if string(got.Secret) != "sealed" {
			t.Errorf("Secret = %q after the caller changed its slices, want %q", got.Secret, "sealed")
		}
	})
}

func testTimes(t *testing.T, s store.Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	tests := []struct {
		name string
		in   time.Time
		// exact is false when in has digits below the microsecond, which may be
		// truncated or rounded; true when it must come back Equal.
		exact bool
	}{
		{"utc", t0, true},
		{"zone", t0.In(zone), true},
		{"nanoseconds", t0.Add(999 * time.Nanosecond).In(zone), false},
		{"monotonic", time.Now(), false},
		{"before-1970", time.Date(1969, 7, 20, 20, 17, 40, 1000, time.UTC), true},
		{"far-future", time.Date(9999, 12, 31, 23, 59, 59, 999999000, zone), true},
	}
	check := func(t *testing.T, what string, got, want time.Time, exact bool) {
		t.Helper()
		if got.Location() != time.UTC {
			t.Errorf("%s: location %v, want UTC", what, got.Location())
		}
		if exact && !got.Equal(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
		if d := got.Sub(want).Abs(); !exact && d >= time.Microsecond {
			t.Errorf("%s = %v, want within 1µs of %v", what, got, want)
		}
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("a%d", i)
			a := newAction(id, tc.in)
			a.UpdatedAt = tc.in
			mustCreateAction(t, s, a)
			got, err := s.GetAction(ctx, id)
			if err != nil {
				t.Fatalf("GetAction: %v", err)
			}
			check(t, "Action.CreatedAt", got.CreatedAt, tc.in, tc.exact)
			check(t, "Action.UpdatedAt", got.UpdatedAt, tc.in, tc.exact)

			c := newConnection(id, "alice")
			c.ExpiresAt, c.CreatedAt, c.UpdatedAt = tc.in, tc.in, tc.in
			mustPutConnection(t, s, c)
			gotc, err := s.GetConnection(ctx, id, "alice")
			if err != nil {
				t.Fatalf("GetConnection: %v", err)
			}
			check(t, "Connection.ExpiresAt", gotc.ExpiresAt, tc.in, tc.exact)
			check(t, "Connection.CreatedAt", gotc.CreatedAt, tc.in, tc.exact)
			check(t, "Connection.UpdatedAt", gotc.UpdatedAt, tc.in, tc.exact)

			st := newSignInState("h"+id, id, tc.in)
			st.CreatedAt = tc.in
			mustPutSignInState(t, s, st)
			gots, err := s.TakeSignInState(ctx, st.Hash)
			if err != nil {
				t.Fatalf("TakeSignInState: %v", err)
			}
			check(t, "SignInState.ExpiresAt", gots.ExpiresAt, tc.in, tc.exact)
			check(t, "SignInState.CreatedAt", gots.CreatedAt, tc.in, tc.exact)
		})
	}

	// A connection without an expiry keeps the zero time.
	t.Run("zero-expiry", func(t *testing.T) {
		mustCreateAction(t, s, newAction("zero", t0))
		c := newConnection("zero", "alice")
		c.ExpiresAt = time.Time{}
		mustPutConnection(t, s, c)
		got, err := s.GetConnection(ctx, "zero", "alice")
		if err != nil {
			t.Fatalf("GetConnection: %v", err)
		}
		if !got.ExpiresAt.IsZero() {
			t.Errorf("ExpiresAt = %v, want the zero time", got.ExpiresAt)
		}
		_, err = s.UpdateConnection(ctx, "zero", "alice", func(c *store.Connection) error {
			if !c.ExpiresAt.IsZero() {
				t.Errorf("fn saw ExpiresAt = %v, want the zero time", c.ExpiresAt)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateConnection: %v", err)
		}
		if got, _ := s.GetConnection(ctx, "zero", "alice"); !got.ExpiresAt.IsZero() {
			t.Errorf("ExpiresAt after an update = %v, want the zero time", got.ExpiresAt)
		}
	})
}
