// Package apitoken issues and checks actiongate's API tokens: random secrets of
// which only a SHA-256 hash is stored, each with scopes ("admin", "invoke") and
// optionally bound to one end user (a per-user MCP token). The bootstrap admin
// token from ACTIONGATE_ADMIN_TOKEN is checked here too.
package apitoken

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/store"
	"github.com/actiongate/actiongate/internal/userid"
)

// Store is what the service needs from the database.
type Store interface {
	CreateToken(ctx context.Context, t store.Token) error
	GetTokenByHash(ctx context.Context, hash []byte) (store.Token, error)
	ListTokens(ctx context.Context) ([]store.Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time) error
}

// maxLifetime bounds expires_in (seconds), ten years.
const maxLifetime = 10 * 366 * 24 * 3600

// Prefix starts every token secret, so secret scanners can recognise them.
const Prefix = "agt_"

// BootstrapID is the token id of the bootstrap admin token.
const BootstrapID = "bootstrap"

// cacheTTL bounds how long a looked-up token is trusted without asking the
// database again: a token revoked on another replica stops working within it.
const cacheTTL = 10 * time.Second

// Principal is who a request acts as.
type Principal struct {
	TokenID string
	Scopes  []string
	User    string // non-empty: may act only for this end user
}

// Can reports whether the principal has scope.
func (p *Principal) Can(scope string) bool { return slices.Contains(p.Scopes, scope) }

// Service issues and checks tokens. It is safe for concurrent use.
type Service struct {
	store     Store
	bootstrap [32]byte
	now       func() time.Time

	mu    sync.Mutex
	cache map[[32]byte]cached
}

type cached struct {
	p       *Principal
	expires time.Time // of the token itself (zero: never)
	until   time.Time // of the cache entry
}

// New returns a Service. bootstrap is the SHA-256 of the bootstrap admin token.
func New(s Store, bootstrap [32]byte, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: s, bootstrap: bootstrap, now: now, cache: map[[32]byte]cached{}}
}

// Hash is the stored form of a token secret.
func Hash(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

var errUnauthorized = apierr.New(apierr.Unauthorized, "missing or wrong API token (Authorization: Bearer <token>)")

// Authenticate returns the principal of a token secret, or unauthorized.
func (s *Service) Authenticate(ctx context.Context, secret string) (*Principal, error) {
	if secret == "" {
		return nil, errUnauthorized
	}
	h := Hash(secret)
	if subtle.ConstantTimeCompare(h[:], s.bootstrap[:]) == 1 {
		return &Principal{TokenID: BootstrapID, Scopes: []string{store.ScopeAdmin, store.ScopeInvoke}}, nil
	}
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[h]
	s.mu.Unlock()
	if ok && now.Before(c.until) {
		if c.p == nil || (!c.expires.IsZero() && !now.Before(c.expires)) {
			return nil, errUnauthorized
		}
		return c.p, nil
	}
	t, err := s.store.GetTokenByHash(ctx, h[:])
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	c = cached{until: now.Add(cacheTTL)}
	if err == nil && t.RevokedAt.IsZero() {
		c.p = &Principal{TokenID: t.ID, Scopes: t.Scopes, User: t.User}
		c.expires = t.ExpiresAt
	}
	s.mu.Lock()
	if len(s.cache) > 10_000 {
		clear(s.cache) // bounded: unknown tokens are cached too
	}
	s.cache[h] = c
	s.mu.Unlock()
	if c.p == nil || (!c.expires.IsZero() && !now.Before(c.expires)) {
		return nil, errUnauthorized
	}
	return c.p, nil
}

// Token is a token as the API shows it; Secret only once, at creation.
type Token struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	User      string     `json:"user,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Secret    string     `json:"token,omitempty"`
}

// CreateInput is the body of POST /v1/tokens.
type CreateInput struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	// User binds the token to one end user (per-user MCP tokens).
	User string `json:"user,omitempty"`
	// ExpiresIn is a lifetime in seconds; 0 means never.
	ExpiresIn int64 `json:"expires_in,omitempty"`
}

// Create issues a token. The secret is in the answer only.
func (s *Service) Create(ctx context.Context, in CreateInput) (*Token, error) {
	if err := userid.Check(in.User); err != nil {
		return nil, err
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		return nil, apierr.New(apierr.InvalidRequest, "name: required, at most 200 characters")
	}
	if len(in.Scopes) == 0 {
		return nil, apierr.New(apierr.InvalidRequest, "scopes: required: [\"invoke\"], [\"admin\"] or both")
	}
	for _, sc := range in.Scopes {
		if sc != store.ScopeAdmin && sc != store.ScopeInvoke {
			return nil, apierr.New(apierr.InvalidRequest, "scopes: %q must be admin or invoke", sc)
		}
	}
	if in.User != "" && slices.Contains(in.Scopes, store.ScopeAdmin) {
		return nil, apierr.New(apierr.InvalidRequest, "scopes: a token bound to a user can only have invoke")
	}
	if in.ExpiresIn < 0 || in.ExpiresIn > maxLifetime {
		return nil, apierr.New(apierr.InvalidRequest, "expires_in: must be between 0 (never) and %d seconds (10 years)", maxLifetime)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	secret := Prefix + base64.RawURLEncoding.EncodeToString(b)
	h := Hash(secret)
	idb := make([]byte, 8)
	_, _ = rand.Read(idb)
	now := s.now().UTC().Truncate(time.Microsecond)
	t := store.Token{ID: "tok_" + hex.EncodeToString(idb), Name: in.Name, Hash: h[:], Scopes: slices.Compact(slices.Sorted(slices.Values(in.Scopes))),
		User: in.User, CreatedAt: now}
	if in.ExpiresIn > 0 {
		t.ExpiresAt = now.Add(time.Duration(in.ExpiresIn) * time.Second)
	}
	if err := s.store.CreateToken(ctx, t); err != nil {
		return nil, fmt.Errorf("store token: %w", err)
	}
	v := view(t)
	v.Secret = secret
	return v, nil
}

// List returns every token, without secrets.
func (s *Service) List(ctx context.Context) ([]*Token, error) {
	ts, err := s.store.ListTokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Token, len(ts))
	for i, t := range ts {
		out[i] = view(t)
	}
	return out, nil
}

// Revoke revokes a token; its cached entry on this replica goes at once.
func (s *Service) Revoke(ctx context.Context, id string) error {
	if err := s.store.RevokeToken(ctx, id, s.now().UTC()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apierr.New(apierr.NotFound, "token %q not found", id)
		}
		return err
	}
	s.mu.Lock()
	for k, c := range s.cache {
		if c.p != nil && c.p.TokenID == id {
			delete(s.cache, k)
		}
	}
	s.mu.Unlock()
	return nil
}

func view(t store.Token) *Token {
	v := &Token{ID: t.ID, Name: t.Name, Scopes: t.Scopes, User: t.User, CreatedAt: t.CreatedAt}
	if !t.ExpiresAt.IsZero() {
		e := t.ExpiresAt
		v.ExpiresAt = &e
	}
	if !t.RevokedAt.IsZero() {
		r := t.RevokedAt
		v.RevokedAt = &r
	}
	return v
}
