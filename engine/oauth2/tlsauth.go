package oauth2

import (
	"fmt"

	"github.com/connspec/connspec/internal/clientauth"
)

// Values of Config.ClientAuthLocation that authenticate the client by the
// TLS client certificate it presents (RFC 8705 section 2): the token
// request carries client_id in its body and no secret at all. The caller
// must send the requests over a transport that presents the certificate.
const (
	AuthTLSClientAuth           = clientauth.TLSClientAuth           // a certificate from a CA the server trusts (section 2.1.1)
	AuthSelfSignedTLSClientAuth = clientauth.SelfSignedTLSClientAuth // a certificate registered with the server (section 2.2)
)

// IsTLSClientAuth reports whether loc authenticates the client by its TLS
// client certificate.
func IsTLSClientAuth(loc string) bool {
	return loc == AuthTLSClientAuth || loc == AuthSelfSignedTLSClientAuth
}

// checkTLSClientAuth refuses a client secret beside certificate client
// authentication: it would never be sent, so the connector's intent is
// unclear; and client_id is required (RFC 8705 section 2).
func (c Config) checkTLSClientAuth() error {
	if !IsTLSClientAuth(c.ClientAuthLocation) {
		return nil
	}
	if c.ClientSecret != "" {
		return fmt.Errorf("oauth2: clientAuthLocation %s authenticates the client by its certificate and sends no client secret; remove clientSecret", c.ClientAuthLocation)
	}
	if c.ClientID == "" {
		return fmt.Errorf("oauth2: clientAuthLocation %s needs clientId (sent in the token request body)", c.ClientAuthLocation)
	}
	return nil
}
