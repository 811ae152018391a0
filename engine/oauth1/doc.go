// Package oauth1 is the OAuth 1.0a protocol layer of connspec (RFC 5849):
// request signing with HMAC-SHA1, HMAC-SHA256, RSA-SHA1 and PLAINTEXT, and
// the three-legged flow of temporary credentials, resource owner
// authorization and token credentials.
//
// The package knows nothing about the connector YAML format. The engine turns
// the result of a connector's getOAuthConfig method into a [Config] with
// [ConfigFromMap], runs [Config.RequestToken], [Config.AuthorizationURL],
// [ParseCallback] and [Config.AccessToken] to connect, and signs every API
// request with [Config.Sign].
//
// Signing follows RFC 5849 section 3.4 to the letter: parameters are an
// ordered list in which duplicate names are kept, form-encoded request bodies
// are part of the signature, percent-encoding is that of section 3.6, and the
// realm never enters the signature base string. [BaseString],
// [CollectParams] and [Config.Signature] expose the steps.
//
// Requests to the credential endpoints never follow redirects and read at
// most 1 MiB of a response. Failures are [*ProviderError] values that say
// whether they are transient; a refused authorization is a [*DeniedError].
// No error carries a consumer secret, token secret, private key or verifier.
package oauth1
