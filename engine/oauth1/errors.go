package oauth1

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// ErrDenied matches, with errors.Is, a [*DeniedError]: the resource owner
// did not authorize the client.
var ErrDenied = errors.New("oauth1: authorization denied")

// ErrTokenMismatch is returned by [ParseCallback] when the callback's
// oauth_token is missing or is not the temporary credentials' token.
var ErrTokenMismatch = errors.New("oauth1: callback oauth_token is missing or does not match")

// Causes put into ProviderError.Err by this package.
var (
	errTooLarge         = errors.New("response too large")
	errRedirect         = errors.New("redirect not followed")
	errNoToken          = errors.New("response has no oauth_token")
	errNoSecret         = errors.New("response has no oauth_token_secret")
	errCallbackRefused  = errors.New("oauth_callback_confirmed is not true")
	errMalformed        = errors.New("malformed response")
	errUnexpectedFormat = errors.New("unexpected HTML or XML response")
)

// ProviderError is a failed temporary credential or token request: the
// endpoint answered with an error or with something that is not a
// credentials response, or could not be reached. It never contains a
// secret: text echoed by the provider is scrubbed of the secrets that were
// sent.
type ProviderError struct {
	// Op names the request: "temporary credential request" or "token
	// request".
	Op string
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	// Problem is the oauth_problem of the OAuth Problem Reporting extension
	// ("token_rejected", "timestamp_refused", ...), from the body or the
	// WWW-Authenticate header; "" when the provider sent none.
	Problem string
	// Advice is oauth_problem_advice, provider text safe to show.
	Advice string
	// Transient is true for failures worth retrying later: 5xx, 408, 429,
	// transport errors and timeouts, and malformed or oversized responses.
	Transient bool
	// Err is the cause: a transport error or a note of this package on the
	// response. It never contains a secret.
	Err error
}

// Error describes the failure without any secret.
func (e *ProviderError) Error() string {
	var b strings.Builder
	b.WriteString("oauth1: ")
	op := e.Op
	if op == "" {
		op = "credentials request"
	}
	b.WriteString(op)
	if e.Status == 0 {
		b.WriteString(" failed")
	} else {
		b.WriteString(" returned HTTP ")
		b.WriteString(strconv.Itoa(e.Status))
	}
	if e.Problem != "" {
		b.WriteString(": ")
		b.WriteString(e.Problem)
	}
	if e.Advice != "" {
		b.WriteString(": ")
		b.WriteString(e.Advice)
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
func (e *ProviderError) Unwrap() error { return e.Err }

// DeniedError is a callback that reports no authorization: Twitter's
// denied=..., an oauth_problem such as user_refused, an error parameter, or
// a callback without oauth_verifier.
type DeniedError struct {
	// Problem is what the callback said: the oauth_problem or error value,
	// "denied", or "missing oauth_verifier".
	Problem string
}

// Error describes the denial.
func (e *DeniedError) Error() string {
	if e.Problem == "" {
		return ErrDenied.Error()
	}
	return ErrDenied.Error() + ": " + e.Problem
}

// Is reports whether target is ErrDenied.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// secretForms lists the ways a secret can come back in an echo: as sent,
// percent-encoded (RFC 5849 and form style) and encoded twice, as it is
// inside a PLAINTEXT signature in a header.
func secretForms(secrets ...string) []string {
	var out []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		out = append(out, s, Encode(s), url.QueryEscape(s), Encode(Encode(s)))
	}
	return out
}
