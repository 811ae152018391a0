// Package clientauth names the ways an OAuth 2.0 client authenticates at a
// token endpoint: the values of getOAuthConfig's clientAuthLocation and the
// keys that only some of them use. It is the one list that both the
// format's static check (spec) and the protocol (engine/oauth2) read, so a
// new way is one line here plus its implementation.
package clientauth

import "slices"

// The values of clientAuthLocation.
const (
	Headers         = "headers"           // HTTP Basic
	Body            = "body"              // client_id and client_secret body fields
	Both            = "both"              // both of the above (the default)
	PrivateKeyJWT   = "private_key_jwt"   // a JWT signed with the client's private key (RFC 7523 section 2.2)
	ClientSecretJWT = "client_secret_jwt" // a JWT MACed with the client secret (RFC 7523 section 2.2)
	// TLSClientAuth and SelfSignedTLSClientAuth present the connection's
	// client certificate (getClientCertificate) and send client_id alone
	// (RFC 8705 sections 2.1.1 and 2.2).
	TLSClientAuth           = "tls_client_auth"
	SelfSignedTLSClientAuth = "self_signed_tls_client_auth"
)

// Locations are the values clientAuthLocation may have; "" means Both.
var Locations = []string{Headers, Body, Both, PrivateKeyJWT, ClientSecretJWT, TLSClientAuth, SelfSignedTLSClientAuth}

// KeyLocations are the getOAuthConfig keys that only some locations use,
// with those locations. Such a key beside any other location would be
// silently unused (a private key with clientAuthLocation body sends the
// secret instead), so it is refused.
var KeyLocations = map[string][]string{
	"clientPrivateKey":        {PrivateKeyJWT},
	"clientKeyId":             {PrivateKeyJWT},
	"clientAssertionAlg":      {PrivateKeyJWT, ClientSecretJWT},
	"clientAssertionAudience": {PrivateKeyJWT, ClientSecretJWT},
}

// Known reports whether loc is a clientAuthLocation value ("" is: the default).
func Known(loc string) bool {
	return loc == "" || slices.Contains(Locations, loc)
}

// KeyAllowed reports whether getOAuthConfig may set key beside
// clientAuthLocation loc ("" meaning Both). Keys not in KeyLocations go
// with any location.
func KeyAllowed(key, loc string) bool {
	locs, ok := KeyLocations[key]
	if !ok {
		return true
	}
	if loc == "" {
		loc = Both
	}
	return slices.Contains(locs, loc)
}
