package oauthtest

import (
	"context"
	"sync"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"
)

// memoryStore is the harness's fosite storage: everything the composed
// handlers need, in memory, behind one mutex.
//
// It is written here rather than taken from fosite's storage package, which
// imports fosite's test helpers and with them modules this repository does
// not depend on. It follows that store's contract: an invalidated code or an
// inactive refresh token is returned together with fosite's sentinel error,
// so fosite can revoke what was issued for it; RotateRefreshToken and
// RevokeRefreshToken/RevokeAccessToken act on the whole request (the token
// family, which keeps its request ID across refreshes).
type memoryStore struct {
	mu           sync.Mutex
	clients      map[string]fosite.Client
	codes        map[string]*entry
	pkce         map[string]fosite.Requester
	access       map[string]fosite.Requester
	refresh      map[string]*entry
	accessByReq  map[string][]string
	refreshByReq map[string][]string
	inactiveHits int // lookups of an inactive refresh token
}

type entry struct {
	req    fosite.Requester
	active bool
}

var (
	_ fosite.Storage                = (*memoryStore)(nil)
	_ oauth2.CoreStorage            = (*memoryStore)(nil)
	_ oauth2.TokenRevocationStorage = (*memoryStore)(nil)
	_ pkce.PKCERequestStorage       = (*memoryStore)(nil)
)

func newMemoryStore() *memoryStore {
	return &memoryStore{
		clients:      map[string]fosite.Client{},
		codes:        map[string]*entry{},
		pkce:         map[string]fosite.Requester{},
		access:       map[string]fosite.Requester{},
		refresh:      map[string]*entry{},
		accessByReq:  map[string][]string{},
		refreshByReq: map[string][]string{},
	}
}

// inactiveRefreshHits is how many times an inactive refresh token was looked
// up: fosite's reuse detection fired.
func (m *memoryStore) inactiveRefreshHits() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inactiveHits
}

func (m *memoryStore) GetClient(_ context.Context, id string) (fosite.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clients[id]
	if !ok {
		return nil, fosite.ErrNotFound
	}
	return c, nil
}

// JWT client assertions (RFC 7523) are not enabled; these are never reached.
func (m *memoryStore) ClientAssertionJWTValid(context.Context, string) error { return nil }
func (m *memoryStore) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return nil
}

func (m *memoryStore) CreateAuthorizeCodeSession(_ context.Context, signature string, req fosite.Requester) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.codes[signature] = &entry{req: req, active: true}
	return nil
}

func (m *memoryStore) GetAuthorizeCodeSession(_ context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.codes[signature]
	if !ok {
		return nil, fosite.ErrNotFound
	}
	if !e.active {
		return e.req, fosite.ErrInvalidatedAuthorizeCode
	}
	return e.req, nil
}

func (m *memoryStore) InvalidateAuthorizeCodeSession(_ context.Context, signature string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.codes[signature]
	if !ok {
		return fosite.ErrNotFound
	}
	e.active = false
	return nil
}

func (m *memoryStore) CreatePKCERequestSession(_ context.Context, signature string, req fosite.Requester) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pkce[signature] = req
	return nil
}

func (m *memoryStore) GetPKCERequestSession(_ context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	req, ok := m.pkce[signature]
	if !ok {
		return nil, fosite.ErrNotFound
	}
	return req, nil
}

func (m *memoryStore) DeletePKCERequestSession(_ context.Context, signature string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pkce, signature)
	return nil
}

func (m *memoryStore) CreateAccessTokenSession(_ context.Context, signature string, req fosite.Requester) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.access[signature] = req
	m.accessByReq[req.GetID()] = append(m.accessByReq[req.GetID()], signature)
	return nil
}

func (m *memoryStore) GetAccessTokenSession(_ context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	req, ok := m.access[signature]
	if !ok {
		return nil, fosite.ErrNotFound
	}
	return req, nil
}

func (m *memoryStore) DeleteAccessTokenSession(_ context.Context, signature string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.access, signature)
	return nil
}

func (m *memoryStore) CreateRefreshTokenSession(_ context.Context, signature, _ string, req fosite.Requester) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refresh[signature] = &entry{req: req, active: true}
	m.refreshByReq[req.GetID()] = append(m.refreshByReq[req.GetID()], signature)
	return nil
}

func (m *memoryStore) GetRefreshTokenSession(_ context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.refresh[signature]
	if !ok {
		return nil, fosite.ErrNotFound
	}
	if !e.active {
		m.inactiveHits++
		return e.req, fosite.ErrInactiveToken
	}
	return e.req, nil
}

func (m *memoryStore) DeleteRefreshTokenSession(_ context.Context, signature string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.refresh, signature)
	return nil
}

// RotateRefreshToken retires the request's refresh and access tokens before
// fosite stores the new pair.
func (m *memoryStore) RotateRefreshToken(ctx context.Context, requestID, _ string) error {
	if err := m.RevokeRefreshToken(ctx, requestID); err != nil {
		return err
	}
	return m.RevokeAccessToken(ctx, requestID)
}

// RevokeRefreshToken marks every refresh token of the request inactive, so
// that presenting one later is detected as reuse.
func (m *memoryStore) RevokeRefreshToken(_ context.Context, requestID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sig := range m.refreshByReq[requestID] {
		if e, ok := m.refresh[sig]; ok {
			e.active = false
		}
	}
	return nil
}

// RevokeAccessToken deletes every access token of the request.
func (m *memoryStore) RevokeAccessToken(_ context.Context, requestID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sig := range m.accessByReq[requestID] {
		delete(m.access, sig)
	}
	delete(m.accessByReq, requestID)
	return nil
}
