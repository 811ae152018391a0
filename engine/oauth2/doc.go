// Package oauth2 is the OAuth 2.0 protocol layer of connspec: authorization
// URLs with PKCE (RFC 7636), the redirect callback, token requests for the
// authorization_code, refresh_token and client_credentials grants, the JWT
// bearer grant and JWT client authentication (private_key_jwt,
// client_secret_jwt; RFC 7523, with keys and claims from engine/jwtgrant),
// and the parsing of token endpoint responses (RFC 6749).
//
// The package knows nothing about the connector YAML format. The engine turns
// the result of a connector's getOAuthConfig method into a [Config] with
// [ConfigFromMap] and calls the methods of Config; everything provider
// specific is expressed through Config's fields.
//
// Token requests never follow redirects, read at most 1 MiB of a response,
// always ask for JSON and also understand form-encoded responses. Failures are
// [*TokenError] values that say whether they are transient (retry later, keep
// the current token while it is valid) or final, and errors.Is(err,
// [ErrInvalidGrant]) tells that the grant is revoked or expired and the
// connection must be authorised again. No error carries a client secret,
// authorization code, PKCE verifier or token.
package oauth2
