package oauth2

import (
	"github.com/connspec/connspec/engine/jwtgrant"
	"github.com/connspec/connspec/internal/clientauth"

	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// GrantJWTBearer is the grant_type of the JWT bearer grant (RFC 7523
// section 2.1).
const GrantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// ClientAssertionType is the client_assertion_type of JWT client
// authentication (RFC 7523 section 2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Values of Config.ClientAuthLocation that authenticate the client with a
// JWT (Config.ClientAssertion) instead of sending a secret.
const (
	AuthPrivateKeyJWT   = clientauth.PrivateKeyJWT   // signed with the client's private key
	AuthClientSecretJWT = clientauth.ClientSecretJWT // HMAC with the client secret
)

// ClientAssertion makes the client_assertion of one token request;
// audience is the URL the request goes to. See PrivateKeyJWT and
// ClientSecretJWT.
type ClientAssertion func(audience string, now time.Time) (string, error)

// ClientAssertionLifetime is the lifetime of client assertions: they are
// made for one request.
const ClientAssertionLifetime = 2 * time.Minute

// PrivateKeyJWT authenticates clientID with assertions signed by key
// (private_key_jwt, OpenID Connect Core section 9): iss and sub clientID,
// aud the token endpoint URL (or audience when not empty, for servers that
// want their issuer identifier), a fresh jti and a two-minute lifetime.
func PrivateKeyJWT(clientID string, key *jwtgrant.Key, audience string) (ClientAssertion, error) {
	if clientID == "" {
		return nil, errors.New("oauth2: private_key_jwt needs a clientId")
	}
	if key == nil {
		return nil, errors.New("oauth2: private_key_jwt needs a private key")
	}
	if key.Public() == nil {
		return nil, errors.New("oauth2: private_key_jwt needs an asymmetric key; use client_secret_jwt for a shared secret")
	}
	return clientAssertion(clientID, key, audience), nil
}

// ClientSecretJWT authenticates clientID with assertions MACed with its
// secret (client_secret_jwt): HS256 unless alg says HS384 or HS512. The
// secret must be at least as long as the hash (32 bytes for HS256).
func ClientSecretJWT(clientID, clientSecret, alg string, audience string) (ClientAssertion, error) {
	if clientID == "" {
		return nil, errors.New("oauth2: client_secret_jwt needs a clientId")
	}
	if clientSecret == "" {
		return nil, errors.New("oauth2: client_secret_jwt needs a clientSecret")
	}
	key, err := jwtgrant.NewHMACKey([]byte(clientSecret), alg)
	if err != nil {
		return nil, fmt.Errorf("oauth2: client_secret_jwt: %s", jwtgrantText(err))
	}
	return clientAssertion(clientID, key, audience), nil
}

func clientAssertion(clientID string, key *jwtgrant.Key, audience string) ClientAssertion {
	return func(tokenURI string, now time.Time) (string, error) {
		aud := audience
		if aud == "" {
			aud = tokenURI
		}
		return key.Sign(jwtgrant.Claims{
			Issuer:   clientID,
			Subject:  clientID,
			Audience: []string{aud},
			Lifetime: ClientAssertionLifetime,
		}, now)
	}
}

// checkClientAssertion is Validate's part for JWT client authentication.
func (c Config) checkClientAssertion() error {
	switch {
	case isAssertionAuth(c.ClientAuthLocation) && c.ClientAssertion == nil:
		return fmt.Errorf("oauth2: clientAuthLocation %s needs a client assertion signer", c.ClientAuthLocation)
	case !isAssertionAuth(c.ClientAuthLocation) && c.ClientAssertion != nil:
		return fmt.Errorf("oauth2: a client assertion signer needs clientAuthLocation %s or %s", AuthPrivateKeyJWT, AuthClientSecretJWT)
	}
	return nil
}

// assertionFromMap sets ClientAssertion for the JWT clientAuthLocations of
// a getOAuthConfig result: private_key_jwt signs with clientPrivateKey (PEM;
// clientKeyId is its kid), client_secret_jwt with clientSecret;
// clientAssertionAlg picks the algorithm and clientAssertionAudience
// replaces the token URL as aud. A key the location does not use
// (clientPrivateKey with body, or with client_secret_jwt) is refused, not
// ignored. Errors name the key, never its value.
func (c *Config) assertionFromMap(m map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(clientauth.KeyLocations)) {
		if m[k] != nil && clientauth.Known(c.ClientAuthLocation) && !clientauth.KeyAllowed(k, c.ClientAuthLocation) {
			return fmt.Errorf("oauth2: %s is only used with clientAuthLocation %s, not %s", k,
				strings.Join(clientauth.KeyLocations[k], " or "), c.clientAuthLocation())
		}
	}
	if !isAssertionAuth(c.ClientAuthLocation) {
		return nil
	}
	var vals [4]string
	for i, k := range []string{"clientPrivateKey", "clientKeyId", "clientAssertionAlg", "clientAssertionAudience"} {
		var err error
		if vals[i], err = read.String(k, m[k]); err != nil {
			return err
		}
	}
	pemKey, kid, alg, aud := vals[0], vals[1], vals[2], vals[3]
	var err error
	if c.ClientAuthLocation == AuthClientSecretJWT {
		c.ClientAssertion, err = ClientSecretJWT(c.ClientID, c.ClientSecret, alg, aud)
		return err
	}
	if pemKey == "" {
		return errors.New("oauth2: clientAuthLocation private_key_jwt needs clientPrivateKey")
	}
	key, err := jwtgrant.ParsePrivateKey([]byte(pemKey), alg)
	if err != nil {
		return fmt.Errorf("oauth2: clientPrivateKey: %s", jwtgrantText(err))
	}
	key.KeyID = kid
	c.ClientAssertion, err = PrivateKeyJWT(c.ClientID, key, aud)
	return err
}

// jwtgrantText is a jwtgrant error's text without its package prefix, to
// follow this package's.
func jwtgrantText(err error) string {
	return strings.TrimPrefix(err.Error(), "jwtgrant: ")
}

// isAssertionAuth reports whether loc asks for JWT client authentication.
func isAssertionAuth(loc string) bool {
	return loc == AuthPrivateKeyJWT || loc == AuthClientSecretJWT
}

// addClientAssertion puts client_id, client_assertion_type and a fresh
// client_assertion for uri into body. ClientAuthLocation and
// ClientAssertion must agree: a JWT location without a signer, or a signer
// with a secret location, is refused rather than sending the wrong
// credentials.
func (c Config) addClientAssertion(body map[string]string, uri string) error {
	if c.ClientAssertion == nil {
		return fmt.Errorf("oauth2: clientAuthLocation %s needs a client assertion signer", c.ClientAuthLocation)
	}
	if !isAssertionAuth(c.ClientAuthLocation) {
		return fmt.Errorf("oauth2: a client assertion signer needs clientAuthLocation %s or %s", AuthPrivateKeyJWT, AuthClientSecretJWT)
	}
	a, err := c.ClientAssertion(uri, c.now())
	if err != nil {
		return err
	}
	if c.ClientID != "" {
		body["client_id"] = c.ClientID
	}
	body["client_assertion_type"] = ClientAssertionType
	body["client_assertion"] = a
	return nil
}

// JWTBearer asks for a token with a signed assertion (RFC 7523 section
// 2.1): grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, assertion
// (claims signed with key at the Config's clock; an empty Audience becomes
// TokenURI), scope (Scopes joined, omitted if empty) and TokenParams, sent
// to TokenURI. The client authenticates too when ClientID is set, as
// ClientAuthLocation says; Google and Salesforce need no client
// authentication beyond the assertion.
func (c Config) JWTBearer(ctx context.Context, hc *http.Client, key *jwtgrant.Key, claims jwtgrant.Claims) (*Token, error) {
	if err := read.URL("tokenUri", c.TokenURI); err != nil {
		return nil, err
	}
	if len(claims.Audience) == 0 {
		claims.Audience = []string{c.TokenURI}
	}
	assertion, err := key.Sign(claims, c.now())
	if err != nil {
		return nil, err
	}
	params := copyParams(c.TokenParams)
	params["grant_type"] = GrantJWTBearer
	params["assertion"] = assertion
	if scope := c.scope(); scope != "" {
		params["scope"] = scope
	}
	return c.TokenRequest(ctx, hc, params, c.TokenURI)
}
