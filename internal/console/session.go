package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"sync"
	"time"
)

// Session lifetimes: a session ends after IdleTimeout without a request, and
// at the latest MaxSessionAge after sign-in.
const (
	IdleTimeout   = 2 * time.Hour
	MaxSessionAge = 12 * time.Hour
	// recheck is how often a session's API token is looked up again, so a
	// token revoked elsewhere (API, CLI, another replica) ends its sessions.
	recheck = 10 * time.Second
	// maxSessions bounds the map; the oldest session goes first.
	maxSessions = 10_000
)

const (
	sessionCookie = "ag_console"
	loginCookie   = "ag_console_login"
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
)

// session is one signed-in browser. It never holds the API token, only its id.
type session struct {
	key     [32]byte // SHA-256 of the cookie value
	tokenID string
	scopes  []string
	csrf    string
	created time.Time
	seen    time.Time
	checked time.Time
	flash   string
}

// sessions is the server-side session table, keyed by the SHA-256 of the
// random cookie value (so the table itself holds nothing a browser could
// present).
type sessions struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[[32]byte]*session
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, m: map[[32]byte]*session{}}
}

// create starts a session for an API token and returns the cookie value.
func (s *sessions) create(tokenID string, scopes []string) (string, *session) {
	id := randomString()
	now := s.now()
	sess := &session{key: sha256.Sum256([]byte(id)), tokenID: tokenID, scopes: scopes, csrf: randomString(), created: now, seen: now, checked: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	if len(s.m) >= maxSessions {
		var oldest *session
		for _, o := range s.m {
			if oldest == nil || o.created.Before(oldest.created) {
				oldest = o
			}
		}
		delete(s.m, oldest.key)
	}
	s.m[sess.key] = sess
	return id, sess
}

// get returns the live session for a cookie value and marks it used.
func (s *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	k := sha256.Sum256([]byte(id))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.m[k]
	if sess == nil {
		return nil
	}
	if s.expired(sess, now) {
		delete(s.m, k)
		return nil
	}
	sess.seen = now
	return sess
}

func (s *sessions) expired(sess *session, now time.Time) bool {
	return now.Sub(sess.seen) > IdleTimeout || now.Sub(sess.created) > MaxSessionAge
}

func (s *sessions) sweepLocked(now time.Time) {
	for k, sess := range s.m {
		if s.expired(sess, now) {
			delete(s.m, k)
		}
	}
}

// end deletes a session.
func (s *sessions) end(sess *session) {
	s.mu.Lock()
	delete(s.m, sess.key)
	s.mu.Unlock()
}

// endToken deletes every session signed in with an API token.
func (s *sessions) endToken(tokenID string) {
	s.mu.Lock()
	for k, sess := range s.m {
		if sess.tokenID == tokenID {
			delete(s.m, k)
		}
	}
	s.mu.Unlock()
}

// needsCheck reports, once per recheck interval, that the session's token
// should be looked up again.
func (s *sessions) needsCheck(sess *session) bool {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(sess.checked) < recheck {
		return false
	}
	sess.checked = now
	return true
}

// setFlash keeps a message for the next page this session renders.
func (s *sessions) setFlash(sess *session, msg string) {
	s.mu.Lock()
	sess.flash = msg
	s.mu.Unlock()
}

// takeFlash returns and clears the pending message.
func (s *sessions) takeFlash(sess *session) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := sess.flash
	sess.flash = ""
	return f
}

// validCSRF checks a request's synchronizer token (form field, or header for
// fetch) against the session's, in constant time.
func validCSRF(r *http.Request, sess *session) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) == 1
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// loginLimiter slows down guessing: at most loginBurst failed sign-ins per
// client address, then one more per loginRefill. Per address, so that
// someone else's failures cannot lock the admin out (a real token is 256
// random bits, but a bootstrap token is whatever the operator chose). Behind
// a reverse proxy every client has the proxy's address.
type loginLimiter struct {
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*loginBucket
}

type loginBucket struct {
	tokens float64
	last   time.Time
}

const (
	loginBurst  = 10
	loginRefill = 6 * time.Second
	// maxLoginBuckets bounds the addresses remembered; past it they are
	// forgotten, all at once.
	maxLoginBuckets = 10_000
)

// bucket returns addr's bucket, refilled to now. l.mu is held.
func (l *loginLimiter) bucket(addr string) *loginBucket {
	now := l.now()
	b := l.buckets[addr]
	if b == nil {
		if l.buckets == nil || len(l.buckets) >= maxLoginBuckets {
			l.buckets = map[string]*loginBucket{}
		}
		b = &loginBucket{tokens: loginBurst, last: now}
		l.buckets[addr] = b
	}
	b.tokens = min(loginBurst, b.tokens+float64(now.Sub(b.last))/float64(loginRefill))
	b.last = now
	return b
}

func (l *loginLimiter) allow(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bucket(addr).tokens >= 1
}

func (l *loginLimiter) failed(addr string) {
	l.mu.Lock()
	l.bucket(addr).tokens--
	l.mu.Unlock()
}

// clientAddr is the address a request came from, without the port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type sessionKey struct{}

func withSession(ctx context.Context, s *session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}
