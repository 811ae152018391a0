package store

import (
	"context"
	"errors"
)

// ErrUnavailable is matched by the errors of a store that failed (could not
// be reached, refused a statement): not an answer about the connection
// (ErrNotFound, ErrConflict) but the store itself. A service answers them as
// its own failure, never as the API's, and never with the driver's text,
// which may name the database's address and user.
var ErrUnavailable = errors.New("store: unavailable")

type unavailableError struct{ err error }

func (e *unavailableError) Error() string   { return e.err.Error() }
func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.err} }

// Unavailable marks err as the store's own failure (ErrUnavailable); nil,
// the store's answers (ErrNotFound, ErrConflict, ErrUsed) and context
// errors are returned as they are.
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrUsed) ||
		errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &unavailableError{err: err}
}
