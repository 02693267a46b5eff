// Package storetest is the conformance suite that every store.Store backend must pass.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

// Run runs the suite against the backend that open creates. Each call to open must
// return a new, empty store and register a t.Cleanup that closes it; the suite
// closes some stores itself, so that cleanup must accept a store already closed.
//
// Beyond the interface comments in package store, the suite fixes some things
// those comments leave open, so that every backend behaves the same way:
//
//   - Byte slices come back exactly as stored, except that an empty slice and nil
//     are the same value: both come back nil. An absent RefreshToken, Secret,
//     Verifier or AuthConfig is therefore always nil, never empty. Likewise a
//     token's Scopes: nil and empty both come back nil.
//   - Times come back in UTC, to the microsecond: a time in whole microseconds
//     comes back Equal to the one stored, whatever its location, and the digits
//     below the microsecond may be truncated or rounded. The zero time comes
//     back zero.
//   - Audit IDs are positive, so that the zero AfterID lists every event. A
//     negative Limit counts as 0 (100 events). A reader paging with AfterID
//     while others append misses no event: IDs become visible in increasing
//     order.
//   - RewrapAll calls fn outside any write transaction, one value at a time, so
//     fn may use the store; an error from fn stops the run, no further value is
//     visited, and RewrapAll returns that error (errors.Is) with the number of
//     values it did replace. "Exactly once" holds for the rows present for the
//     whole run.
//   - Input that would lose data is refused with an error that is neither
//     sentinel: CreateToken without a Hash, RevokeToken at the zero time (which
//     would mean "active"), and an empty replacement from RewrapAll's fn with
//     changed=true (which would erase the secret).
//
// Keys in the suite are lowercase ASCII, so "ordered by ID" means the same thing
// under byte order and under any common collation.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Ping", testPing},
		{"CreateGetAction", testCreateGetAction},
		{"CreateActionConflict", testCreateActionConflict},
		{"GetActionNotFound", testGetActionNotFound},
		{"ListActions", testListActions},
		{"UpdateAction", testUpdateAction},
		{"UpdateActionFnError", testUpdateActionFnError},
		{"UpdateActionNotFound", testUpdateActionNotFound},
		{"UpdateActionConcurrent", testUpdateActionConcurrent},
		{"DeleteAction", testDeleteAction},
		{"DeleteActionCascades", testDeleteActionCascades},
		{"PutGetConnection", testPutGetConnection},
		{"PutConnectionReplaces", testPutConnectionReplaces},
		{"GetConnectionNotFound", testGetConnectionNotFound},
		{"ListConnections", testListConnections},
		{"UpdateConnection", testUpdateConnection},
		{"UpdateConnectionFnError", testUpdateConnectionFnError},
		{"UpdateConnectionNotFound", testUpdateConnectionNotFound},
		{"UpdateConnectionConcurrent", testUpdateConnectionConcurrent},
		{"DeleteConnection", testDeleteConnection},
		{"PutTakeSignInState", testPutTakeSignInState},
		{"PutSignInStateConflict", testPutSignInStateConflict},
		{"TakeSignInStateConcurrent", testTakeSignInStateConcurrent},
		{"TakeSignInStateExpired", testTakeSignInStateExpired},
		{"DeleteExpiredSignInStates", testDeleteExpiredSignInStates},
		{"Meta", testMeta},
		{"Bytes", testBytes},
		{"Times", testTimes},
		{"CreateGetToken", testCreateGetToken},
		{"TokenScopes", testTokenScopes},
		{"CreateTokenConflict", testCreateTokenConflict},
		{"GetTokenByHashNotFound", testGetTokenByHashNotFound},
		{"ListTokens", testListTokens},
		{"RevokeToken", testRevokeToken},
		{"TokenInvalid", testTokenInvalid},
		{"AppendListAudit", testAppendListAudit},
		{"ListAuditFilters", testListAuditFilters},
		{"ListAuditPaging", testListAuditPaging},
		{"ListAuditLimit", testListAuditLimit},
		{"AppendAuditConcurrent", testAppendAuditConcurrent},
		{"ListAuditWhileAppending", testListAuditWhileAppending},
		{"AuditOutlivesAction", testAuditOutlivesAction},
		{"RewrapAll", testRewrapAll},
		{"RewrapAllUnchanged", testRewrapAllUnchanged},
		{"RewrapAllCompareAndSwap", testRewrapAllCompareAndSwap},
		{"RewrapAllConcurrentDelete", testRewrapAllConcurrentDelete},
		{"RewrapAllConcurrentWrites", testRewrapAllConcurrentWrites},
		{"RewrapAllFnError", testRewrapAllFnError},
		{"RewrapAllEmptyReplacement", testRewrapAllEmptyReplacement},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// t0 is a time in whole microseconds, so it survives every backend unchanged.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)

// concurrency is how many goroutines the concurrent tests start.
const concurrency = 20

// errFn is what the closures of the failing-update tests return.
var errFn = errors.New("storetest: fn failed")

func newAction(id string, created time.Time) store.Action {
	return store.Action{
		ID:         id,
		Name:       "Action " + id,
		Schema:     `{"openapi":"3.1.0","info":{"title":"` + id + `","version":"1"}}`,
		ServerURL:  "https://api.example.com/" + id,
		AuthType:   "oauth",
		AuthConfig: []byte(`{"scopes":["read"]}`),
		Secret:     []byte("sealed-secret-" + id),
		CreatedAt:  created,
		UpdatedAt:  created.Add(time.Minute),
	}
}

func newConnection(actionID, user string) store.Connection {
	return store.Connection{
		ActionID:     actionID,
		User:         user,
		AccessToken:  []byte("sealed-access-" + actionID + "-" + user),
		RefreshToken: []byte("sealed-refresh-" + actionID + "-" + user),
		Scope:        "read",
		ExpiresAt:    t0.Add(time.Hour),
		Status:       store.StatusConnected,
		CreatedAt:    t0,
		UpdatedAt:    t0,
	}
}

func newSignInState(hash, actionID string, expires time.Time) store.SignInState {
	return store.SignInState{
		Hash:      hash,
		ActionID:  actionID,
		User:      "alice",
		Verifier:  []byte("sealed-verifier-" + hash),
		ExpiresAt: expires,
		CreatedAt: t0,
	}
}

// mustCreateAction stores an action, failing the test on error.
func mustCreateAction(t *testing.T, s store.Store, a store.Action) {
	t.Helper()
	if err := s.CreateAction(t.Context(), a); err != nil {
		t.Fatalf("CreateAction(%q): %v", a.ID, err)
	}
}

// mustPutConnection stores a connection, failing the test on error.
func mustPutConnection(t *testing.T, s store.Store, c store.Connection) {
	t.Helper()
	if err := s.PutConnection(t.Context(), c); err != nil {
		t.Fatalf("PutConnection(%q, %q): %v", c.ActionID, c.User, err)
	}
}

// mustPutSignInState stores a sign-in state, failing the test on error.
func mustPutSignInState(t *testing.T, s store.Store, st store.SignInState) {
	t.Helper()
	if err := s.PutSignInState(t.Context(), st); err != nil {
		t.Fatalf("PutSignInState(%q): %v", st.Hash, err)
	}
}

// wantErr fails the test unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// checkEqual reports each field of got that differs from want. Times are compared
// with Equal and must be in UTC; a byte slice must be nil where want's is nil.
func checkEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		switch w := wv.Field(i).Interface().(type) {
		case time.Time:
			g := gv.Field(i).Interface().(time.Time)
			if !g.Equal(w) || g.Location() != time.UTC {
				t.Errorf("%s: %s = %v, want %v in UTC", what, name, g, w)
			}
		case []byte:
			g := gv.Field(i).Interface().([]byte)
			if !bytes.Equal(g, w) || (w == nil && g != nil) {
				t.Errorf("%s: %s = %#v, want %#v", what, name, g, w)
			}
		case []string:
			g := gv.Field(i).Interface().([]string)
			if !slices.Equal(g, w) || (w == nil && g != nil) {
				t.Errorf("%s: %s = %#v, want %#v", what, name, g, w)
			}
		default:
			if g := gv.Field(i).Interface(); g != w {
				t.Errorf("%s: %s = %#v, want %#v", what, name, g, w)
			}
		}
	}
}

// checkAllAppended checks that list holds prefix0 … prefix19, each exactly once.
func checkAllAppended(t *testing.T, list, prefix string) {
	t.Helper()
	fields := strings.Fields(list)
	slices.Sort(fields)
	var want []string
	for i := range concurrency {
		want = append(want, fmt.Sprintf("%s%d", prefix, i))
	}
	slices.Sort(want)
	if !slices.Equal(fields, want) {
		t.Errorf("after %d concurrent updates got %q, want each of %v once", concurrency, list, want)
	}
}
