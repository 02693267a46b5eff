// Package store defines how actiongate persists actions, per-user connections and
// sign-in states, and the errors every storage backend reports.
//
// Backends only ever see ciphertext for secrets: encryption happens above the store
// (package secrets), so a database dump reveals no API key, client secret or token.
// Every backend must pass the conformance suite in package storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap or return these so callers can use errors.Is.
var (
	// ErrNotFound means the requested record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a record with the same key already exists.
	ErrConflict = errors.New("store: already exists")
)

// Action is a registered API: its OpenAPI document and one authentication scheme.
type Action struct {
	ID        string
	Name      string
	Schema    string // the OpenAPI document exactly as submitted
	ServerURL string // base URL given by the builder; empty when the document's own server is used
	AuthType  string // "none", "api_key" or "oauth"
	// AuthConfig is the JSON of the non-secret auth settings (never a secret).
	AuthConfig []byte
	// Secret is the sealed API key or OAuth client secret; nil when none is set.
	Secret    []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Connection status values.
const (
	StatusConnected   = "connected"
	StatusNeedsReauth = "needs_reauth"
)

// Connection is one end user's OAuth credentials for one action. There is at most
// one per (ActionID, User): storing again replaces the previous one.
type Connection struct {
	ActionID     string
	User         string
	AccessToken  []byte // sealed
	RefreshToken []byte // sealed; nil when the provider issued none
	Scope        string
	ExpiresAt    time.Time // zero when the provider gave no expiry
	Status       string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// SignInState is a pending OAuth authorization request, keyed by a hash of the
// state parameter sent to the provider (the raw state is never stored).
type SignInState struct {
	Hash      string
	ActionID  string
	User      string
	Verifier  []byte // sealed PKCE code_verifier; nil when PKCE is off
	ExpiresAt time.Time
	CreatedAt time.Time
}

// Token scopes.
const (
	ScopeAdmin  = "admin"  // manage actions and tokens, read the audit log
	ScopeInvoke = "invoke" // invoke, tools, proxy, connect, a user's connections
)

// Token is an API token. Only the SHA-256 of its secret is stored.
type Token struct {
	ID     string
	Name   string
	Hash   []byte // SHA-256 of the token secret; unique
	Scopes []string
	// User, when set, limits the token to one end user (a per-user MCP token).
	User      string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	RevokedAt time.Time // zero: active
}

// AuditEvent is one append-only record of a credential event. It never holds a
// secret.
type AuditEvent struct {
	ID       int64 // assigned by the store, increasing
	Time     time.Time
	Actor    string // token id, "cli" or "system"
	Type     string // e.g. "action.created", "connection.refreshed", "key.rotated"
	ActionID string
	User     string
	Detail   string // short JSON or text, never a secret
}

// AuditFilter selects audit events; empty fields match everything.
type AuditFilter struct {
	ActionID string
	User     string
	Type     string
	AfterID  int64 // only events with a larger ID (paging)
	Limit    int   // at most this many (backends cap it at 1000; 0 means 100)
}

// Store is the persistence contract. All methods are safe for concurrent use.
//
// Values: nil and empty byte slices both come back nil; other bytes come back
// exactly. Times come back in UTC, exact to the microsecond; a zero ExpiresAt
// stays zero. The caller sets CreatedAt and UpdatedAt; the store never changes
// them on its own. IDs order by byte value.
//
// Update closures run inside the backend's transaction: fn must not call the
// store, and may be called more than once (a backend may retry), so it must
// have no side effects beyond the record it is given. Changes fn makes to the
// record's key fields are ignored. Update methods return the record as stored.
//
// Storing a connection or sign-in state for an action that does not exist
// answers ErrNotFound. Close may be called more than once.
type Store interface {
	// CreateAction inserts a new action; ErrConflict if the ID exists.
	CreateAction(ctx context.Context, a Action) error
	// GetAction returns the action or ErrNotFound.
	GetAction(ctx context.Context, id string) (Action, error)
	// ListActions returns every action ordered by CreatedAt then ID.
	ListActions(ctx context.Context) ([]Action, error)
	// UpdateAction reads the action, applies fn and writes the result in one
	// transaction. If fn returns an error nothing is written and that error is
	// returned. ErrNotFound if the action does not exist.
	UpdateAction(ctx context.Context, id string, fn func(*Action) error) (Action, error)
	// DeleteAction removes the action with its connections and sign-in states;
	// ErrNotFound if it does not exist.
	DeleteAction(ctx context.Context, id string) error

	// PutConnection inserts or replaces the connection for (ActionID, User),
	// keeping the original CreatedAt when replacing.
	PutConnection(ctx context.Context, c Connection) error
	// GetConnection returns the connection or ErrNotFound.
	GetConnection(ctx context.Context, actionID, user string) (Connection, error)
	// ListConnections returns the user's connections ordered by ActionID.
	ListConnections(ctx context.Context, user string) ([]Connection, error)
	// UpdateConnection reads, applies fn and writes in one transaction, like
	// UpdateAction. ErrNotFound if the connection does not exist.
	UpdateConnection(ctx context.Context, actionID, user string, fn func(*Connection) error) (Connection, error)
	// DeleteConnection removes the connection; ErrNotFound if it does not exist.
	DeleteConnection(ctx context.Context, actionID, user string) error

	// PutSignInState stores a pending sign-in; ErrConflict if the hash exists.
	PutSignInState(ctx context.Context, s SignInState) error
	// TakeSignInState atomically deletes and returns the state with this hash, so
	// that a state can be used once only, even by concurrent callbacks: exactly one
	// caller gets it, the others get ErrNotFound. Expiry is the caller's to check.
	TakeSignInState(ctx context.Context, hash string) (SignInState, error)
	// DeleteExpiredSignInStates removes states that expired before now.
	DeleteExpiredSignInStates(ctx context.Context, now time.Time) (int, error)

	// GetMeta returns a small named value (e.g. the key check, the admin token
	// hash) or ErrNotFound.
	GetMeta(ctx context.Context, key string) ([]byte, error)
	// PutMeta sets a named value, replacing any previous one.
	PutMeta(ctx context.Context, key string, value []byte) error

	// CreateToken stores an API token; ErrConflict if the ID or hash exists.
	CreateToken(ctx context.Context, t Token) error
	// GetTokenByHash returns the token with this hash (revoked or not) or
	// ErrNotFound.
	GetTokenByHash(ctx context.Context, hash []byte) (Token, error)
	// ListTokens returns every token ordered by CreatedAt then ID.
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken sets RevokedAt to the earlier of the stored and the given
	// time; ErrNotFound if the token does not exist. A zero time is refused.
	RevokeToken(ctx context.Context, id string, at time.Time) error

	// AppendAudit appends an event and returns its ID. Events are never
	// changed or deleted through this interface, and IDs become visible in
	// increasing order, so paging with AfterID never skips an event.
	AppendAudit(ctx context.Context, e AuditEvent) (int64, error)
	// ListAudit returns matching events in ascending ID order.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)

	// RewrapAll visits every sealed value in the store (action secrets,
	// access and refresh tokens, PKCE verifiers) in batches. For each it calls
	// fn; when fn returns changed=true, the value is replaced only if it is
	// still the one fn saw (compare-and-swap, so a concurrent write wins). It
	// returns how many values were replaced. fn is called outside any
	// transaction, never concurrently, and may use the store; an error from fn
	// stops the run and is returned. It is safe while the store is in use and
	// may be interrupted and run again: fn decides what still needs changing.
	RewrapAll(ctx context.Context, fn func(sealed []byte) (replacement []byte, changed bool, err error)) (int, error)

	// Ping reports whether the database is reachable.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
