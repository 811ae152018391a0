package spec

import (
	"slices"

	"go.yaml.in/yaml/v3"
)

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

// tlsClientAuthLocations are the clientAuthLocation values of RFC 8705
// section 2: the client authenticates by its TLS certificate.
var tlsClientAuthLocations = []string{"tls_client_auth", "self_signed_tls_client_auth"}

// checkClientCertificate refuses a literal getOAuthConfig whose
// clientAuthLocation authenticates the client by its TLS certificate in
// an auth block that has no getClientCertificate (the engine refuses it at
// connect time too, whatever computes the value).
func (l *loader) checkClientCertificate(a *Auth, where string) {
	m := a.Methods[MethodGetOAuthConfig]
	if m == nil || m.Mapping == nil || m.Mapping.Kind != yaml.MappingNode || isFormulaNode(m.Mapping) || a.Methods[MethodGetClientCertificate] != nil {
		return
	}
	v := mappingValue(m.Mapping, "clientAuthLocation")
	if v == nil || v.Kind != yaml.ScalarNode || !slices.Contains(tlsClientAuthLocations, v.Value) {
		return
	}
	at := Pos{File: m.Body.File, Line: v.Line, Column: v.Column}
	l.add(at.Errorf("", "clientAuthLocation %s authenticates the client by its TLS certificate, but %s has no %s: add it (returning certificate and privateKey, PEM)", v.Value, where, MethodGetClientCertificate))
}
