// Package apperr is the single error vocabulary shared by every service and
// the HTTP error boundary.
//
// An *Error carries a Kind (which decides the HTTP status), a public message
// that is safe to show to the person who made the request, and an optional
// cause that is only ever logged. Services return either one of their own
// sentinel errors built with New, or wrap an internal failure with Internal;
// the Fiber ErrorHandler in internal/server is the one place that turns them
// into responses.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies an error for callers and for the HTTP boundary.
type Kind int

// The kinds, in the order of their HTTP statuses.
const (
	KindInternal     Kind = iota // 500; public message is generic
	KindInvalid                  // 400
	KindUnauthorized             // 401
	KindForbidden                // 403
	KindNotFound                 // 404
	KindConflict                 // 409
	KindTooLarge                 // 413
	KindTooMany                  // 429
	KindUnavailable              // 503
)

// Status returns the HTTP status code for k.
func (k Kind) Status() int {
	switch k {
	case KindInvalid:
		return http.StatusBadRequest
	case KindUnauthorized:
		return http.StatusUnauthorized
	case KindForbidden:
		return http.StatusForbidden
	case KindNotFound:
		return http.StatusNotFound
	case KindConflict:
		return http.StatusConflict
	case KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case KindTooMany:
		return http.StatusTooManyRequests
	case KindUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// Error is an error with a public message and a private cause.
type Error struct {
	Kind   Kind
	Public string // shown to the client; never contains internal detail
	Cause  error  // logged only; may be nil
}

// Error returns the public message followed by the cause, for logs.
func (e *Error) Error() string {
	if e.Cause == nil {
		return e.Public
	}
	return e.Public + ": " + e.Cause.Error()
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Cause }

// Is makes two *Error values with the same kind and public message match, so
// a sentinel compares equal to a copy of itself that carries a cause.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Public == e.Public
}

// New returns an error of kind k whose public message is msg.
func New(k Kind, msg string) *Error { return &Error{Kind: k, Public: msg} }

// Invalid returns a 400 error with a formatted public message.
func Invalid(format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Public: fmt.Sprintf(format, args...)}
}

// NotFound returns a 404 error with the given public message.
func NotFound(msg string) *Error { return &Error{Kind: KindNotFound, Public: msg} }

// Internal wraps an unexpected failure. The client sees only "internal error";
// op names the operation for the log ("kb: insert article").
func Internal(op string, cause error) *Error {
	return &Error{Kind: KindInternal, Public: "internal error", Cause: fmt.Errorf("%s: %w", op, cause)}
}

// With returns a copy of e that carries cause, keeping e's kind and message,
// so errors.Is(result, e) still holds.
func (e *Error) With(cause error) *Error {
	return &Error{Kind: e.Kind, Public: e.Public, Cause: cause}
}

// KindOf reports the kind of err: the kind of the first *Error in its chain,
// or KindInternal when there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// PublicMessage returns the message that may be shown to a client for err.
func PublicMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != KindInternal {
		return e.Public
	}
	return "internal error"
}
