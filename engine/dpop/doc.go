// Package dpop implements OAuth 2.0 Demonstrating Proof of Possession
// (DPoP, RFC 9449) for connspec: per-connection key pairs that can be kept
// in a credential store, JWK thumbprints (RFC 7638), DPoP proof JWTs bound to
// a request's method and URL (and to the access token through "ath"), an
// [http.RoundTripper] that attaches proofs and answers the servers'
// "use_dpop_nonce" challenges, and a [Verifier] that checks proofs as an
// authorization or resource server must (RFC 9449 section 4.3).
//
// The package knows nothing about the connector YAML format. A [Key] never
// shows its private half: String, Format, slog and JSON encoding print only
// the algorithm and the thumbprint, and the store form is produced only by
// the explicit [Key.PrivateJWK].
package dpop
