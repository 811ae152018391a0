package oauth2

import (
	"github.com/connspec/connspec/internal/endpoint"

	"crypto/subtle"
	"errors"
	"net/url"
)

// AuthorizationURL returns the URL to send the user to (RFC 6749 section
// 4.1.1): AuthorizeURI with its own query kept, plus Extra, response_type=code,
// client_id, redirect_uri (omitted if empty), scope (Scopes joined with
// ScopeSeparator, omitted if empty), state, resource (RFC 8707, when
// Resource is set), and unless SkipPKCE the S256
// code_challenge of verifier. The parameters it sets win over Extra and over
// those already in AuthorizeURI.
//
// state and, unless SkipPKCE, verifier are required: make them with
// NewState and NewVerifier and keep both for the callback.
func (c Config) AuthorizationURL(redirectURI, state, verifier string) (string, error) {
	if c.AuthorizeURI == "" {
		return "", errors.New("oauth2: authorizeUri is required")
	}
	if err := read.URL("authorizeUri", c.AuthorizeURI); err != nil {
		return "", err
	}
	if c.ClientID == "" {
		return "", errors.New("oauth2: clientId is required for the authorization URL")
	}
	if state == "" {
		return "", errors.New("oauth2: state is required for the authorization URL")
	}
	if verifier == "" && !c.SkipPKCE {
		return "", errors.New("oauth2: a PKCE verifier is required unless skipPkce is set")
	}
	u, err := url.Parse(c.AuthorizeURI)
	if err != nil {
		return "", errors.New("oauth2: authorizeUri must be an absolute http or https URL")
	}
	q := u.Query()
	for k, v := range c.Extra {
		q.Set(k, v)
	}
	q.Set("response_type", "code")
	q.Set("client_id", c.ClientID)
	if redirectURI != "" {
		q.Set("redirect_uri", redirectURI)
	}
	if scope := c.scope(); scope != "" {
		q.Set("scope", scope)
	}
	q.Set("state", state)
	if c.Resource != "" {
		q.Set("resource", c.Resource) // RFC 8707 section 2.1
	}
	if !c.SkipPKCE {
		q.Set("code_challenge", S256Challenge(verifier))
		q.Set("code_challenge_method", "S256")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// ParseCallback reads the query of the redirect back from the provider. It
// first checks that state equals wantState (in constant time; a missing
// state or an empty wantState fails with ErrStateMismatch), then returns a
// *CallbackError when the provider reported an error, ErrMissingCode when
// there is no code, and the authorization code otherwise.
func ParseCallback(query url.Values, wantState string) (code string, err error) {
	got := query.Get("state")
	if wantState == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(wantState)) != 1 {
		return "", ErrStateMismatch
	}
	if e := query.Get("error"); e != "" {
		return "", &CallbackError{
			Code:        endpoint.CleanText(e),
			Description: endpoint.CleanText(query.Get("error_description")),
			URI:         endpoint.CleanText(query.Get("error_uri")),
		}
	}
	code = query.Get("code")
	if code == "" {
		return "", ErrMissingCode
	}
	return code, nil
}
