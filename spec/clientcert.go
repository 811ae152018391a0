package spec

// MethodGetClientCertificate returns the TLS client certificate a
// connection presents (mutual TLS, RFC 8705): a layer under every auth
// type rather than a type of its own, since an API-key API may sit behind
// mTLS as well as an OAuth server with tls_client_auth (connspec extension).
const MethodGetClientCertificate = "getClientCertificate"

// ClientCertificateKeys are the keys getClientCertificate's result has:
// the PEM certificate (chain) and its PEM private key.
var ClientCertificateKeys = []string{"certificate", "privateKey"}

// clientCertificateRule allows getClientCertificate with the connector
// parameters (a team-wide certificate) and the connection input (one per
// connection); options inherit it from the base auth block.
func clientCertificateRule() MethodRule {
	return MethodRule{
		Implementations: anyImpl,
		Inputs:          []string{"connectorParameters", "connectionInput", "connectionParameters"},
		Inherited:       true,
		ResultKeys:      ClientCertificateKeys,
	}
}
