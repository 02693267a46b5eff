package storetest

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

// tokenHash is the SHA-256 of a made-up secret for the token id.
func tokenHash(id string) []byte {
	h := sha256.Sum256([]byte("agt_secret_" + id))
	return h[:]
}

func newToken(id string, created time.Time) store.Token {
	return store.Token{
		ID:   id,
		Name: "Token " + id,
		Hash: tokenHash(id),
		// Not sorted: the order given must be kept.
		Scopes:    []string{store.ScopeInvoke, store.ScopeAdmin},
		CreatedAt: created,
	}
}

// mustCreateToken stores a token, failing the test on error.
func mustCreateToken(t *testing.T, s store.Store, tok store.Token) {
	t.Helper()
	if err := s.CreateToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateToken(%q): %v", tok.ID, err)
	}
}

// mustGetToken returns the token with hash, failing the test on error.
func mustGetToken(t *testing.T, s store.Store, hash []byte) store.Token {
	t.Helper()
	got, err := s.GetTokenByHash(t.Context(), hash)
	if err != nil {
		t.Fatalf("GetTokenByHash(%x): %v", hash, err)
	}
	return got
}

// tokenIDs returns the IDs of list, in order.
func tokenIDs(list []store.Token) []string {
	var ids []string
	for _, tok := range list {
		ids = append(ids, tok.ID)
	}
	return ids
}

func testCreateGetToken(t *testing.T, s store.Store) {
	zone := time.FixedZone("UTC-7", -7*3600)

	// Every field set: a per-user token that expires.
	full := newToken("t1", t0.In(zone))
	full.User = "alice"
	full.ExpiresAt = t0.Add(30 * 24 * time.Hour).In(zone)
	mustCreateToken(t, s, full)
	checkEqual(t, "GetTokenByHash(full)", mustGetToken(t, s, full.Hash), full)

	// No user, no expiry, not revoked: the zero times stay zero.
	plain := newToken("t2", t0)
	plain.Scopes = []string{store.ScopeAdmin}
	mustCreateToken(t, s, plain)
	got := mustGetToken(t, s, plain.Hash)
	checkEqual(t, "GetTokenByHash(plain)", got, plain)
	if !got.ExpiresAt.IsZero() || !got.RevokedAt.IsZero() {
		t.Errorf("ExpiresAt, RevokedAt = %v, %v; want the zero time for both", got.ExpiresAt, got.RevokedAt)
	}

	// The hash is bytes, not text: every byte value comes back exactly.
	binary := newToken("t3", t0)
	binary.Hash = allBytes()
	mustCreateToken(t, s, binary)
	checkEqual(t, "GetTokenByHash(binary)", mustGetToken(t, s, allBytes()), binary)

	// A token stored already revoked comes back so.
	revoked := newToken("t4", t0)
	revoked.RevokedAt = t0.Add(time.Minute)
	mustCreateToken(t, s, revoked)
	checkEqual(t, "GetTokenByHash(revoked)", mustGetToken(t, s, revoked.Hash), revoked)

	// The store keeps no reference to the caller's slices.
	copied := newToken("t5", t0)
	hash, scopes := slices.Clone(copied.Hash), slices.Clone(copied.Scopes)
	copied.Hash, copied.Scopes = hash, scopes
	mustCreateToken(t, s, copied)
	want := copied
	want.Hash, want.Scopes = slices.Clone(hash), slices.Clone(scopes)
	hash[0]++
	scopes[0] = "changed"
	checkEqual(t, "GetTokenByHash after the caller changed its slices", mustGetToken(t, s, want.Hash), want)
}

func testTokenScopes(t *testing.T, s store.Store) {
	tests := []struct {
		name     string
		in, want []string
	}{
		{"order kept", []string{"invoke", "admin"}, []string{"invoke", "admin"}},
		{"sorted", []string{"admin", "invoke"}, []string{"admin", "invoke"}},
		{"one", []string{"invoke"}, []string{"invoke"}},
		{"nil", nil, nil},
		{"empty", []string{}, nil},
		// The store does not interpret scopes: repeats and unknown ones stay.
		{"repeats", []string{"b", "a", "b"}, []string{"b", "a", "b"}},
		// Characters that JSON or an array literal would have to escape.
		{"escaping", []string{`q"uote`, `back\slash`, "com,ma", "{brace}", "NULL", "", " sp ace", "ünï€😀"},
			[]string{`q"uote`, `back\slash`, "com,ma", "{brace}", "NULL", "", " sp ace", "ünï€😀"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := newToken(fmt.Sprintf("t%d", i), t0)
			tok.Scopes = tc.in
			mustCreateToken(t, s, tok)
			got := mustGetToken(t, s, tok.Hash)
			tok.Scopes = tc.want
			checkEqual(t, "GetTokenByHash", got, tok)
		})
	}
	list, err := s.ListTokens(t.Context())
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	for _, tok := range list {
		if tok.ID == "t0" && !slices.Equal(tok.Scopes, tests[0].want) {
			t.Errorf("ListTokens: Scopes = %q, want %q", tok.Scopes, tests[0].want)
		}
	}
}

func testCreateTokenConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := newToken("t1", t0)
	mustCreateToken(t, s, orig)

	sameID := newToken("t1", t0.Add(time.Hour))
	sameID.Name = "Other"
	sameID.Hash = tokenHash("other")
	wantErr(t, "CreateToken with an existing ID", s.CreateToken(ctx, sameID), store.ErrConflict)

	sameHash := newToken("t2", t0.Add(time.Hour))
	sameHash.Hash = orig.Hash
	wantErr(t, "CreateToken with an existing hash", s.CreateToken(ctx, sameHash), store.ErrConflict)

	// Neither was stored, and the original is unchanged.
	_, err := s.GetTokenByHash(ctx, sameID.Hash)
	wantErr(t, "GetTokenByHash of the token refused for its ID", err, store.ErrNotFound)
	list, err := s.ListTokens(ctx)
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	if ids := tokenIDs(list); !slices.Equal(ids, []string{"t1"}) {
		t.Fatalf("ListTokens after conflicts = %v, want [t1]", ids)
	}
	checkEqual(t, "GetTokenByHash after conflicts", mustGetToken(t, s, orig.Hash), orig)

	// Hashes that differ in one byte, or in length, are different hashes.
	near := newToken("t3", t0)
	near.Hash = slices.Clone(orig.Hash)
	near.Hash[len(near.Hash)-1] ^= 1
	mustCreateToken(t, s, near)
	longer := newToken("t4", t0)
	longer.Hash = append(slices.Clone(orig.Hash), 0)
	mustCreateToken(t, s, longer)
	checkEqual(t, "GetTokenByHash(near)", mustGetToken(t, s, near.Hash), near)
	checkEqual(t, "GetTokenByHash(longer)", mustGetToken(t, s, longer.Hash), longer)
	checkEqual(t, "GetTokenByHash(orig)", mustGetToken(t, s, orig.Hash), orig)
}

func testGetTokenByHashNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetTokenByHash(ctx, tokenHash("t1"))
	wantErr(t, "GetTokenByHash on an empty store", err, store.ErrNotFound)
	tok := newToken("t1", t0)
	mustCreateToken(t, s, tok)
	for name, h := range map[string][]byte{
		"unknown":  tokenHash("t2"),
		"prefix":   tok.Hash[:len(tok.Hash)-1],
		"extended": append(slices.Clone(tok.Hash), 0),
		"nil":      nil,
		"empty":    {},
	} {
		_, err := s.GetTokenByHash(ctx, h)
		wantErr(t, "GetTokenByHash("+name+")", err, store.ErrNotFound)
	}
}

func testListTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.ListTokens(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("ListTokens on an empty store = %v, %v; want none", got, err)
	}
	// Inserted out of order; "b" and "c" share a CreatedAt, so ID breaks the
	// tie. A revoked and an expired token are listed too.
	for _, tok := range []store.Token{
		newToken("c", t0.Add(time.Second)),
		newToken("a", t0.Add(2*time.Second)),
		newToken("d", t0),
		newToken("b", t0.Add(time.Second)),
	} {
		switch tok.ID {
		case "a":
			tok.RevokedAt = t0.Add(time.Hour)
		case "c":
			tok.ExpiresAt = t0.Add(-time.Hour)
		}
		mustCreateToken(t, s, tok)
	}
	got, err = s.ListTokens(ctx)
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	if ids, want := tokenIDs(got), []string{"d", "b", "c", "a"}; !slices.Equal(ids, want) {
		t.Fatalf("ListTokens order = %v, want %v", ids, want)
	}
	checkEqual(t, "ListTokens[0]", got[0], newToken("d", t0))
	wantA := newToken("a", t0.Add(2*time.Second))
	wantA.RevokedAt = t0.Add(time.Hour)
	checkEqual(t, "ListTokens[3]", got[3], wantA)
}

func testRevokeToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantErr(t, "RevokeToken(missing)", s.RevokeToken(ctx, "missing", t0), store.ErrNotFound)

	tok := newToken("t1", t0)
	tok.User = "alice"
	tok.ExpiresAt = t0.Add(24 * time.Hour)
	mustCreateToken(t, s, tok)
	other := newToken("t2", t0)
	mustCreateToken(t, s, other)

	revoke := func(at time.Time, want time.Time) {
		t.Helper()
		if err := s.RevokeToken(ctx, "t1", at); err != nil {
			t.Fatalf("RevokeToken(t1, %v): %v", at, err)
		}
		// A revoked token is still found by its hash, with RevokedAt set and
		// nothing else changed.
		w := tok
		w.RevokedAt = want
		checkEqual(t, fmt.Sprintf("GetTokenByHash after RevokeToken at %v", at), mustGetToken(t, s, tok.Hash), w)
	}
	first := t0.Add(2 * time.Hour)
	revoke(first.In(time.FixedZone("UTC+2", 2*3600)), first)
	// A later revocation keeps the earlier one.
	revoke(first.Add(time.Hour), first)
	revoke(first, first)
	// An earlier one is kept over the one stored.
	revoke(first.Add(-time.Hour), first.Add(-time.Hour))

	// The other token is untouched; ListTokens shows the revocation.
	checkEqual(t, "GetTokenByHash of another token", mustGetToken(t, s, other.Hash), other)
	list, err := s.ListTokens(ctx)
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	if len(list) != 2 {
		t.Fatalf("ListTokens after revocation: %d tokens, want 2 (revoked ones are listed)", len(list))
	}
	for _, got := range list {
		if got.ID == "t1" && !got.RevokedAt.Equal(first.Add(-time.Hour)) {
			t.Errorf("ListTokens: RevokedAt of t1 = %v, want %v", got.RevokedAt, first.Add(-time.Hour))
		}
		if got.ID == "t2" && !got.RevokedAt.IsZero() {
			t.Errorf("ListTokens: RevokedAt of t2 = %v, want zero", got.RevokedAt)
		}
	}
}

// testTokenInvalid checks the refusals the suite adds to the contract: a token
// without a hash, and a revocation at the zero time.
func testTokenInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	for name, h := range map[string][]byte{"nil": nil, "empty": {}} {
		tok := newToken("t-"+name, t0)
		tok.Hash = h
		if err := s.CreateToken(ctx, tok); err == nil {
			t.Errorf("CreateToken with a %s hash: no error", name)
		}
	}
	if list, err := s.ListTokens(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListTokens after refused creations = %v, %v; want none", tokenIDs(list), err)
	}

	tok := newToken("t1", t0)
	mustCreateToken(t, s, tok)
	if err := s.RevokeToken(ctx, "t1", time.Time{}); err == nil {
		t.Error("RevokeToken at the zero time: no error")
	}
	checkEqual(t, "GetTokenByHash after a refused revocation", mustGetToken(t, s, tok.Hash), tok)
	if err := s.RevokeToken(ctx, "t1", t0); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if err := s.RevokeToken(ctx, "t1", time.Time{}); err == nil {
		t.Error("RevokeToken of a revoked token at the zero time: no error")
	}
	tok.RevokedAt = t0
	checkEqual(t, "GetTokenByHash after a refused un-revocation", mustGetToken(t, s, tok.Hash), tok)
}
