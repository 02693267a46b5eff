package apitoken

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

// memStore is a minimal in-memory token store for unit tests (the real
// backends are covered by store/storetest).
type memStore struct {
	mu sync.Mutex
	ts []store.Token
}

func (m *memStore) CreateToken(_ context.Context, t store.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ts = append(m.ts, t)
	return nil
}

func (m *memStore) GetTokenByHash(_ context.Context, h []byte) (store.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.ts {
		if string(t.Hash) == string(h) {
			return t, nil
		}
	}
	return store.Token{}, store.ErrNotFound
}

func (m *memStore) ListTokens(context.Context) ([]store.Token, error) { return m.ts, nil }

func (m *memStore) RevokeToken(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.ts {
		if m.ts[i].ID == id {
			m.ts[i].RevokedAt = at
			return nil
		}
	}
	return store.ErrNotFound
}

func TestLifetimeAndExpiry(t *testing.T) {
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := New(&memStore{}, Hash("bootstrap-token-0123456789"), clock)
	ctx := context.Background()
	for _, bad := range []int64{-1, maxLifetime + 1, 9223372036854775807} {
		if _, err := s.Create(ctx, CreateInput{Name: "x", Scopes: []string{"invoke"}, ExpiresIn: bad}); err == nil {
			t.Errorf("expires_in %d accepted", bad)
		}
	}
	tok, err := s.Create(ctx, CreateInput{Name: "x", Scopes: []string{"invoke"}, ExpiresIn: 60})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Authenticate(ctx, tok.Secret); err != nil || p.TokenID != tok.ID || p.Can(store.ScopeAdmin) || !p.Can(store.ScopeInvoke) {
		t.Fatalf("fresh token: %+v %v", p, err)
	}
	now = now.Add(61 * time.Second)
	if _, err := s.Authenticate(ctx, tok.Secret); err == nil {
		t.Fatal("expired token accepted (from the cache)")
	}
	if p, err := s.Authenticate(ctx, "bootstrap-token-0123456789"); err != nil || !p.Can(store.ScopeAdmin) {
		t.Fatalf("bootstrap: %+v %v", p, err)
	}
	if _, err := s.Authenticate(ctx, "agt_unknown"); err == nil {
		t.Fatal("unknown token accepted")
	}
}

func TestRevokeIsImmediateOnThisReplica(t *testing.T) {
	s := New(&memStore{}, [32]byte{}, nil)
	ctx := context.Background()
	tok, _ := s.Create(ctx, CreateInput{Name: "x", Scopes: []string{"invoke"}})
	if _, err := s.Authenticate(ctx, tok.Secret); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok.Secret); err == nil {
		t.Fatal("revoked token still accepted from the cache")
	}
	var nf error = s.Revoke(ctx, "tok_nope")
	if nf == nil || errors.Is(nf, store.ErrNotFound) {
		t.Fatalf("unknown revoke should be a not_found API error: %v", nf)
	}
}

// TestUserIsChecked: a token bound to a user id that could not be stored or
// shown faithfully is refused, whichever way in (API, console) creates it.
func TestUserIsChecked(t *testing.T) {
	s := New(&memStore{}, [32]byte{}, nil)
	for _, bad := range []string{strings.Repeat("x", 5000) + "\x01", "tab\tuser"} {
		if _, err := s.Create(context.Background(), CreateInput{Name: "n", Scopes: []string{"invoke"}, User: bad}); err == nil || !strings.Contains(err.Error(), "user:") {
			t.Errorf("user %.20q: %v", bad, err)
		}
	}
}
