// Package apierr defines the contract's error codes and maps each to its HTTP status,
// in one place. Messages in these errors are safe to show to API callers: they never
// carry secrets or upstream bodies.
package apierr

import (
	"errors"
	"fmt"
	"net/http"
)

// The contract's error codes (see docs/api.md).
const (
	Unauthorized         = "unauthorized"
	Forbidden            = "forbidden"
	NotFound             = "not_found"
	InvalidRequest       = "invalid_request"
	InvalidSchema        = "invalid_schema"
	InvalidArguments     = "invalid_arguments"
	SignInRequired       = "sign_in_required"
	ConfirmationRequired = "confirmation_required"
	DestinationBlocked   = "destination_blocked"
	UpstreamUnreachable  = "upstream_unreachable"
	UpstreamTimeout      = "upstream_timeout"
	UpstreamTooLarge     = "upstream_response_too_large"
	PayloadTooLarge      = "payload_too_large"
	RateLimited          = "rate_limited"
	MethodNotAllowed     = "method_not_allowed"
	Internal             = "internal"
)

var statusOf = map[string]int{
	Unauthorized:         http.StatusUnauthorized,
	Forbidden:            http.StatusForbidden,
	NotFound:             http.StatusNotFound,
	InvalidRequest:       http.StatusBadRequest,
	InvalidSchema:        http.StatusBadRequest,
	InvalidArguments:     http.StatusBadRequest,
	SignInRequired:       http.StatusForbidden,
	ConfirmationRequired: http.StatusConflict,
	DestinationBlocked:   http.StatusForbidden,
	UpstreamUnreachable:  http.StatusBadGateway,
	UpstreamTimeout:      http.StatusGatewayTimeout,
	UpstreamTooLarge:     http.StatusBadGateway,
	PayloadTooLarge:      http.StatusRequestEntityTooLarge,
	RateLimited:          http.StatusTooManyRequests,
	MethodNotAllowed:     http.StatusMethodNotAllowed,
	Internal:             http.StatusInternalServerError,
}

// Error is an error whose code, message and extra fields may be shown to the caller.
type Error struct {
	Code    string
	Message string
	// Details lists individual problems (invalid_schema, invalid_arguments).
	Details []string
	// Extra holds code-specific fields such as sign_in_url and domain.
	Extra map[string]any
	// Cause is the internal error, for logs only; it is never shown to callers.
	Cause error
}

// New returns an Error with a formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Cause }

// Status is the HTTP status for the error's code.
func (e *Error) Status() int {
	if s, ok := statusOf[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Body is the JSON body of the error response:
// {"error": {"code", "message", "details"?, ...Extra}}.
func (e *Error) Body() map[string]any {
	inner := map[string]any{"code": e.Code, "message": e.Message}
	if e.Details != nil {
		inner["details"] = e.Details
	}
	for k, v := range e.Extra {
		if k != "code" && k != "message" && k != "details" {
			inner[k] = v
		}
	}
	return map[string]any{"error": inner}
}

// From returns err as an *Error, or an internal error that hides err's text.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Message: "internal error", Cause: err}
}
