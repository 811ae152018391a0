package engine

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/connspec/connspec/engine/dpop"
	"github.com/connspec/connspec/engine/oauth2"
	"github.com/connspec/connspec/spec"
)

// DPoP (RFC 9449) for OAuth 2.0 connections whose getOAuthConfig says
// dpop: true. Each connection has one key pair, made for its first token
// request and kept in its credentials under DPoPCredentialsKey (sealed by
// the store like the refresh token). Token requests carry a proof; API
// requests carry "Authorization: DPoP <token>" and a proof bound to the
// token ("ath"). The key outlives every renewal: the tokens are bound to
// its thumbprint, so a lost or unreadable key means authorising again,
// never a silently new key.

// DPoPCredentialsKey is the credentials key reserved for a DPoP
// connection's private key (a private JWK, in JSON). A connector's
// credential mappings cannot replace or drop it: the engine carries it over
// every renewal.
const DPoPCredentialsKey = "dpop_key"

// dpopLayer is what DPoP adds to an OAuth 2.0 session.
type dpopLayer struct {
	alg string
	// nonces are the servers' last DPoP-Nonce values, shared by the
	// client's token and API requests.
	nonces *dpop.Nonces
}

// newDPoPLayer returns the layer of a configuration that asks for DPoP,
// nil when it does not. DPoP needs the engine to make the token requests:
// methods that make them in the connector's code cannot send proofs.
func newDPoPLayer(cfg oauth2.Config, a *Auth) (*dpopLayer, error) {
	if !cfg.DPoP {
		return nil, nil
	}
	if err := checkDPoPMethods(a); err != nil {
		return nil, err
	}
	return &dpopLayer{alg: cfg.DPoPAlgorithm, nonces: &dpop.Nonces{}}, nil
}

// checkDPoPMethods refuses connector methods that would request tokens
// without DPoP proofs: the tokens would be unbound, or refused.
func checkDPoPMethods(a *Auth) error {
	for _, name := range []string{spec.MethodRefreshCredentials, spec.MethodGetTokenData} {
		if a.Methods[name] != nil {
			return fmt.Errorf("getOAuthConfig asks for dpop, but the connector has %s, whose token requests carry no dpop proof", name)
		}
	}
	return nil
}

// newDPoPKey makes a connection's key pair and its store form.
func newDPoPKey(alg string) (dpop.Key, string, error) {
	key, err := dpop.GenerateKey(alg)
	if err != nil {
		return dpop.Key{}, "", err
	}
	jwk, err := key.PrivateJWK()
	if err != nil {
		return dpop.Key{}, "", err
	}
	return key, string(jwk), nil
}

// dpopKeyOf reads the connection's key from its credentials. A missing or
// unreadable key is the end of the connection: its tokens are bound to the
// key, and a new key would only have them refused.
func dpopKeyOf(creds map[string]any) (dpop.Key, error) {
	raw, ok := creds[DPoPCredentialsKey].(string)
	if !ok || raw == "" {
		return dpop.Key{}, &ConnectionError{Key: KeyConnectionIsDefunct, Message: fmt.Sprintf("the credentials have no dpop key (%s): authorise the connection again", DPoPCredentialsKey)}
	}
	key, err := dpop.ParseKey([]byte(raw))
	if err != nil {
		// ParseKey's errors never quote key material.
		return dpop.Key{}, &ConnectionError{Key: KeyConnectionIsDefunct, Message: fmt.Sprintf("the stored dpop key (%s) cannot be read: authorise the connection again", DPoPCredentialsKey), Err: err}
	}
	return key, nil
}

// tokenClient sends token requests with proofs signed by key over base.
func (d *dpopLayer) tokenClient(key dpop.Key, base http.RoundTripper) *http.Client {
	return tokenHTTPClient(&dpop.Transport{Key: key, Base: base, Nonces: d.nonces})
}

// checkDPoPToken refuses a token the server did not bind to the key: a
// server that ignores the proof answers token_type Bearer, and using that
// token would silently drop the protection the connector asked for.
func checkDPoPToken(tok *oauth2.Token) error {
	if !strings.EqualFold(tok.TokenType, "DPoP") {
		return fmt.Errorf("getOAuthConfig asks for dpop, but the token endpoint answered token_type %q: the token is not bound to the connection's dpop key, and is not used", tokenTypeName(tok.TokenType))
	}
	return nil
}

// keepDPoPKey puts the connection's key into renewed credentials, whatever
// a connector's mapping made of them.
func keepDPoPKey(creds, cur map[string]any) {
	creds[DPoPCredentialsKey] = cur[DPoPCredentialsKey]
}

// wire is the transport of one credentials state's API requests: proofs
// bound to its access token, over the client's wire.
func (d *dpopLayer) wire(base http.RoundTripper, creds map[string]any) (http.RoundTripper, []string, error) {
	key, err := dpopKeyOf(creds)
	if err != nil {
		return nil, nil, err
	}
	token, _ := creds["access_token"].(string)
	t := &dpop.Transport{Key: key, Base: base, Nonces: d.nonces,
		AccessToken: func(*http.Request) (string, error) { return token, nil }}
	return nonceRefusal{t}, privateMembers(key), nil
}

// privateMembers are the key's private JWK members: the redactor knows the
// stored JWK as a whole, and needs them to catch one quoted on its own.
func privateMembers(key dpop.Key) []string {
	raw, err := key.PrivateJWK()
	if err != nil {
		return nil
	}
	var j dpop.JWK
	if json.Unmarshal(raw, &j) != nil {
		return nil
	}
	return []string{j.D, j.P, j.Q, j.DP, j.DQ, j.QI}
}

// nonceRefusal turns a resource server's use_dpop_nonce 401 that outlived
// the transport's one retry into an error: it asks for a nonce, not a new
// token, so the engine must not take it for an expired token and renew.
type nonceRefusal struct{ next http.RoundTripper }

func (n nonceRefusal) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := n.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !dpop.UseNonceChallenge(resp.Header) {
		return resp, err
	}
	drain(resp)
	return nil, &ConnectionError{Key: "dpop_nonce_refused", Message: "the API refused the dpop proof's nonce again after a retry with the nonce it sent (use_dpop_nonce)", Status: resp.StatusCode}
}

// tokenTypeName is a token_type fit to quote in an error: a scheme name is
// short and alphanumeric; anything else is not quoted.
func tokenTypeName(s string) string {
	if s == "" || len(s) > 20 || strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) >= 0 {
		return "(not shown)"
	}
	return s
}
