package oauth2

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalidGrant matches, with errors.Is, a [*TokenError] whose Code is
// "invalid_grant": the authorization code or refresh token is invalid,
// expired or revoked, and the connection needs to be authorised again.
var ErrInvalidGrant = errors.New("oauth2: invalid grant")

// ErrStateMismatch is returned by [ParseCallback] when the callback's state is
// missing or differs from the one the authorization URL carried.
var ErrStateMismatch = errors.New("oauth2: callback state is missing or does not match")

// ErrMissingCode is returned by [ParseCallback] when the callback carries
// neither a code nor an error.
var ErrMissingCode = errors.New("oauth2: callback has no authorization code")

// Causes put into TokenError.Err by this package.
var (
	errTooLarge      = errors.New("response too large")
	errRedirect      = errors.New("redirect not followed")
	errNoAccessToken = errors.New("response has no access_token")
)

// TokenError is a failed token request: the endpoint answered with an error,
// with something that is not a token response, or could not be reached.
// It never contains a secret: descriptions echoed by the provider are
// scrubbed of the secrets that were sent.
type TokenError struct {
	// Endpoint names the endpoint when it is not the token endpoint
	// ("device authorization endpoint"); "" means the token endpoint.
	Endpoint string
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	// Code is the RFC 6749 section 5.2 "error" ("invalid_grant",
	// "invalid_client", ...), "" when the response carried none.
	Code string
	// Description is the provider's error_description, safe to show.
	Description string
	// Transient is true for failures worth retrying later while the current
	// token stays in use: 5xx, 408, 429, the error codes server_error and
	// temporarily_unavailable, transport errors and timeouts, and empty,
	// HTML, oversized or otherwise malformed responses.
	Transient bool
	// Err is the cause: a transport error or a note of this package on the
	// response. It never contains a secret.
	Err error
}

// Error describes the failure without any secret.
func (e *TokenError) Error() string {
	var b strings.Builder
	switch {
	case e.Status == 0 && e.Endpoint != "":
		b.WriteString("oauth2: " + e.Endpoint + " request failed")
	case e.Status == 0:
		b.WriteString("oauth2: token request failed")
	default:
		name := e.Endpoint
		if name == "" {
			name = "token endpoint"
		}
		b.WriteString("oauth2: " + name + " returned HTTP ")
		b.WriteString(strconv.Itoa(e.Status))
	}
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Transient {
		b.WriteString(" (transient)")
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *TokenError) Unwrap() error { return e.Err }

// Is reports whether the error is [ErrInvalidGrant] for Code "invalid_grant".
func (e *TokenError) Is(target error) bool {
	return target == ErrInvalidGrant && e.Code == "invalid_grant"
}

// CallbackError is an error the provider reported in the redirect callback
// (?error=access_denied&error_description=...), RFC 6749 section 4.1.2.1.
type CallbackError struct {
	// Code is the "error" parameter, such as "access_denied".
	Code string
	// Description is "error_description", provider text safe to show.
	Description string
	// URI is "error_uri", a page about the error.
	URI string
}

// Error describes the provider's error.
func (e *CallbackError) Error() string {
	msg := "oauth2: authorization failed: " + e.Code
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// maxDescription caps provider text kept in errors.
const maxDescription = 512
