package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

const signInStateColumns = `hash, action_id, user_id, verifier, expires_at, created_at`

// PutSignInState stores a pending sign-in; store.ErrConflict if the hash exists,
// store.ErrNotFound if the action does not.
func (s *Store) PutSignInState(ctx context.Context, st store.SignInState) error {
	res, err := s.write.ExecContext(ctx,
		`INSERT INTO sign_in_states (`+signInStateColumns+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (hash) DO NOTHING`,
		st.Hash, st.ActionID, st.User, blob(st.Verifier), micros(st.ExpiresAt), micros(st.CreatedAt))
	if isForeignKeyViolation(err) {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: put sign-in state: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: put sign-in state: %w", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: put sign-in state: %w", store.ErrConflict)
	}
	return nil
}

// TakeSignInState deletes and returns the state with this hash in one statement,
// so that of concurrent callers exactly one gets it; the others get
// store.ErrNotFound.
func (s *Store) TakeSignInState(ctx context.Context, hash string) (store.SignInState, error) {
	var st store.SignInState
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var expires, created int64
		err := tx.QueryRowContext(ctx,
			`DELETE FROM sign_in_states WHERE hash = ? RETURNING `+signInStateColumns, hash).
			Scan(&st.Hash, &st.ActionID, &st.User, &st.Verifier, &expires, &created)
		if err != nil {
			return fmt.Errorf("sqlite: take sign-in state: %w", notFoundIfNoRows(err))
		}
		st.ExpiresAt, st.CreatedAt = fromMicros(expires), fromMicros(created)
		return nil
	})
	if err != nil {
		return store.SignInState{}, err
	}
	return st, nil
}

// DeleteExpiredSignInStates removes the states that expired before now and
// returns how many it removed.
func (s *Store) DeleteExpiredSignInStates(ctx context.Context, now time.Time) (int, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM sign_in_states WHERE expires_at < ?`, micros(now))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired sign-in states: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired sign-in states: %w", err)
	}
	return int(n), nil
}
