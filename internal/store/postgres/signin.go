package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

const signInStateColumns = `hash, action_id, user_id, verifier, expires_at, created_at`

// PutSignInState stores a pending sign-in; store.ErrConflict if the hash exists,
// store.ErrNotFound if the action does not.
func (s *Store) PutSignInState(ctx context.Context, st store.SignInState) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO sign_in_states (`+signInStateColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		st.Hash, st.ActionID, st.User, blob(st.Verifier), st.ExpiresAt, st.CreatedAt)
	if err != nil {
		return fmt.Errorf("postgres: put sign-in state: %w", mapError(err))
	}
	return nil
}

// TakeSignInState deletes and returns the state with this hash in one
// statement, DELETE … RETURNING, so that of concurrent callers on any replica
// exactly one gets it: the others wait for its row lock, then find the row gone
// and get store.ErrNotFound.
func (s *Store) TakeSignInState(ctx context.Context, hash string) (store.SignInState, error) {
	var st store.SignInState
	err := s.pool.QueryRow(ctx,
		`DELETE FROM sign_in_states WHERE hash = $1 RETURNING `+signInStateColumns, hash).
		Scan(&st.Hash, &st.ActionID, &st.User, &st.Verifier, &st.ExpiresAt, &st.CreatedAt)
	if err != nil {
		return store.SignInState{}, fmt.Errorf("postgres: take sign-in state: %w", mapError(err))
	}
	st.Verifier = nilIfEmpty(st.Verifier)
	st.ExpiresAt, st.CreatedAt = st.ExpiresAt.UTC(), st.CreatedAt.UTC()
	return st, nil
}

// DeleteExpiredSignInStates removes the states that expired before now and
// returns how many it removed.
func (s *Store) DeleteExpiredSignInStates(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sign_in_states WHERE expires_at < $1`, now)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired sign-in states: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
