package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/connspec/connspec/engine/jsrt"
	"github.com/connspec/connspec/spec"
)

// Connection error keys, as integration.app's SDK names them.
const (
	KeyAccessTokenExpired  = "access_token_expired"
	KeyConnectionIsDefunct = "connection_is_defunct"
	KeyRateLimitExceeded   = "rate_limit_exceeded"
)

// Sentinels for errors.Is: a *ConnectionError matches the one with its key.
var (
	ErrAccessTokenExpired  = &ConnectionError{Key: KeyAccessTokenExpired}
	ErrConnectionIsDefunct = &ConnectionError{Key: KeyConnectionIsDefunct}
	ErrRateLimitExceeded   = &ConnectionError{Key: KeyRateLimitExceeded}
)

// ConnectionError says the connection, not the request, is the problem:
// its credentials expired, it must be re-authorised, or it is rate limited.
type ConnectionError struct {
	Key     string
	Message string
	// Status is the HTTP status that caused it, when one did.
	Status int
	Err    error
}

func (e *ConnectionError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = strings.ReplaceAll(e.Key, "_", " ")
	}
	if e.Status != 0 {
		msg = fmt.Sprintf("%s (HTTP %d)", msg, e.Status)
	}
	return "connection error " + e.Key + ": " + msg
}

// Unwrap returns the cause.
func (e *ConnectionError) Unwrap() error { return e.Err }

// Is matches a ConnectionError with the same key, so
// errors.Is(err, engine.ErrAccessTokenExpired) works.
func (e *ConnectionError) Is(target error) bool {
	t, ok := target.(*ConnectionError)
	return ok && t.Key == e.Key && t.Message == "" && t.Status == 0 && t.Err == nil
}

// InputError is connection input that does not match the auth option's UI
// or input schema. It names the field and never repeats the value.
type InputError struct {
	// Field is the dotted path of the field ("" for the input as a whole).
	Field   string
	Message string
}

func (e *InputError) Error() string {
	if e.Field == "" {
		return "invalid connection input: " + e.Message
	}
	return fmt.Sprintf("invalid connection input: %s: %s", e.Field, e.Message)
}

// MethodError is a failure of a connector method: a JavaScript exception, a
// formula that cannot be evaluated, or a result of the wrong shape. It
// carries the method name and where the method is written.
type MethodError struct {
	Method string
	Pos    spec.Pos
	Err    error
}

func (e *MethodError) Error() string {
	cause := "failed without saying why"
	if e.Err != nil {
		cause = e.Err.Error()
	}
	where := e.Pos.String()
	if where == "" {
		return e.Method + ": " + cause
	}
	return fmt.Sprintf("%s (%s): %s", e.Method, where, cause)
}

// Unwrap returns the cause: a *ConnectionError for SDK ConnectionErrors, a
// *jsrt.Error for other exceptions, a formula evaluation error, ...
func (e *MethodError) Unwrap() error { return e.Err }

// HostError refuses to send credentials to a host: a request to a host the
// connector does not name (Host, Allowed), or a URL of a method's result
// (Field: baseUri, tokenUri, ...) whose host connection input would choose
// (Input names the fields, never their values).
type HostError struct {
	Host    string
	Allowed []string
	// Field is the URL a method returned; Input the connection input fields
	// in its host, and Reason why that is refused.
	Field  string
	Input  []string
	Reason string
}

func (e *HostError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("refusing to send credentials to %s: the connector only allows %s", e.Host, strings.Join(e.Allowed, ", "))
	}
	which := "the " + e.Field + " host"
	if e.Field == "baseUri" {
		which = "the API host (baseUri)"
	}
	return fmt.Sprintf("%s: connection input %s would change %s: %s", e.Field, strings.Join(e.Input, ", "), which, e.Reason)
}

// HTTPError is a non-2xx response, returned by the Client's JSON helpers.
// Body holds the start of the response body; it is not part of Error().
type HTTPError struct {
	Method, URL string
	Status      int
	// Message is set when a response handler declared the error.
	Message string
	Body    []byte
}

func (e *HTTPError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.Status, e.Message)
	}
	return fmt.Sprintf("%s %s: HTTP %d", e.Method, e.URL, e.Status)
}

// methodError wraps a failure of method m, mapping SDK error classes thrown
// in JavaScript onto engine errors.
func methodError(m *Method, err error) error {
	var je *jsrt.Error
	if errors.As(err, &je) && je.Name == "ConnectionError" && je.Key != "" {
		err = &ConnectionError{Key: je.Key, Message: je.Message, Err: err}
	}
	pos := m.Spec.Body
	if pos.Line == 0 {
		pos = spec.Pos{File: m.Spec.Body.File, Line: 1, Column: 1}
	}
	return &MethodError{Method: m.Spec.Name, Pos: pos, Err: err}
}

// redactedMethodError is the failure err of method m with every secret r
// knows hidden. The cause is redacted inside the *MethodError, not around
// it: a caller that reaches the MethodError with errors.As (to show where
// the method is written, say) must not find the secrets there either.
func redactedMethodError(m *Method, err error, r *redactor) error {
	return methodError(m, redactError(err, r))
}

// redactedError hides secret values in an error's text while keeping the
// chain for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactError returns err with every secret in its text replaced.
func redactError(err error, r *redactor) error {
	if err == nil || r == nil {
		return err
	}
	msg := err.Error()
	if red := r.String(msg); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

// ErrAuthorizationRequired is matched when a connection has no credentials
// yet and a person must authorize it (an OAuth flow) before it can be used.
var ErrAuthorizationRequired = errors.New("a person must authorize this connection")
