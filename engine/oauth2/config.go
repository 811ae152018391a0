package oauth2

import (
	"github.com/connspec/connspec/internal/clientauth"
	"github.com/connspec/connspec/internal/mapvalue"

	"fmt"
	"strings"
	"time"
)

// Values of Config.ClientAuthLocation.
const (
	AuthInHeaders = clientauth.Headers // HTTP Basic
	AuthInBody    = clientauth.Body    // client_id and client_secret body fields
	AuthInBoth    = clientauth.Both    // both of the above (the default)
)

// Values of Config.TokenRequestFormat.
const (
	FormatForm = "form" // application/x-www-form-urlencoded (the default)
	FormatJSON = "json" // a JSON object of strings
)

// Values of Config.GrantType.
const (
	GrantAuthorizationCode = "authorization_code" // the default
	GrantClientCredentials = "client_credentials"
	grantRefreshToken      = "refresh_token"
)

// DefaultRefreshMargin is the RefreshMargin ConfigFromMap uses when the map
// has no refreshMargin.
const DefaultRefreshMargin = 60 * time.Second

// Config is the normalised result of a connector's getOAuthConfig method.
// The zero value of each field means its documented default, so a Config can
// be built directly as well as with ConfigFromMap. A Config is safe for
// concurrent use as long as nobody modifies it.
type Config struct {
	// ClientID and ClientSecret identify the OAuth client. An empty
	// ClientSecret makes a public client: client_id goes in the body and no
	// Basic header is sent.
	ClientID, ClientSecret string
	// AuthorizeURI is the authorization endpoint (authorization_code only).
	// Query parameters already in it are kept.
	AuthorizeURI string
	// TokenURI is the token endpoint.
	TokenURI string
	// DeviceAuthorizationURI is the device authorization endpoint (RFC
	// 8628 section 3.1), for StartDeviceAuthorization; "" when the provider
	// has no device flow.
	DeviceAuthorizationURI string
	// RefreshURI is where refresh requests go; "" means TokenURI.
	RefreshURI string
	// Scopes are requested in the authorize URL and in client_credentials
	// requests, joined with ScopeSeparator.
	Scopes []string
	// ScopeSeparator joins Scopes; "" means " ".
	ScopeSeparator string
	// ClientAuthLocation says where client credentials go on token requests:
	// "headers" (HTTP Basic with client_id and client_secret each
	// form-url-encoded, RFC 6749 section 2.3.1), "body" or "both" ("" too:
	// integration.app's OAuth2 page says "both if not specified"), or
	// "private_key_jwt" / "client_secret_jwt" with ClientAssertion, or
	// "tls_client_auth" / "self_signed_tls_client_auth" (RFC 8705: client_id
	// in the body, the TLS client certificate authenticates).
	ClientAuthLocation string
	// ClientAssertion, with ClientAuthLocation private_key_jwt or
	// client_secret_jwt, authenticates the client with a JWT (RFC 7523
	// section 2.2) instead of its secret: see PrivateKeyJWT and
	// ClientSecretJWT. The two fields must agree; a request where they do
	// not is refused.
	ClientAssertion ClientAssertion
	// TokenRequestFormat is the token request body encoding: "form" ("" too)
	// or "json".
	TokenRequestFormat string
	// TokenParams are extra body fields of authorization_code and
	// client_credentials token requests. Fields the protocol sets (grant_type,
	// code, ...) win over them.
	TokenParams map[string]string
	// RefreshParams are extra body fields of refresh requests. Scope is only
	// sent on refresh when RefreshParams has it.
	RefreshParams map[string]string
	// TokenHeaders are extra headers on every token request. They may replace
	// Accept and Content-Type, and Authorization when the client does not
	// authenticate in the headers.
	TokenHeaders map[string]string
	// Extra are extra query parameters of the authorize URL (access_type,
	// prompt, ...). They cannot replace the parameters AuthorizationURL sets.
	Extra map[string]string
	// SkipPKCE leaves out code_challenge and code_verifier, for providers
	// that reject them.
	SkipPKCE bool
	// NoRefreshToken says the provider issues no refresh tokens. The package
	// does not act on it; the engine uses it to decide how to renew access.
	NoRefreshToken bool
	// GrantType is "authorization_code" ("" too), "client_credentials" or
	// GrantTokenExchange.
	GrantType string
	// TokenExchange holds the request fields of the token exchange grant
	// (GrantTokenExchange); it must be zero with another grant.
	TokenExchange TokenExchange
	// DefaultExpiresIn is the lifetime of tokens whose response has no
	// expiry; 0 means such tokens do not expire.
	DefaultExpiresIn time.Duration
	// RefreshMargin is how long before ExpiresAt the engine treats a token as
	// expired (see Token.Expired). ConfigFromMap defaults it to 60s.
	RefreshMargin time.Duration
	// DPoP asks for DPoP-bound tokens (RFC 9449): the engine sends its
	// token requests with proofs and refuses a token_type other than DPoP.
	DPoP bool
	// DPoPAlgorithm is the algorithm of the connection's DPoP key: ES256
	// ("" too), EdDSA or RS256.
	DPoPAlgorithm string
	// Resource is the RFC 8707 resource indicator: an absolute URL without
	// fragment naming the API the token is for. It is sent in the
	// authorization request, the code exchange, refresh, client
	// credentials and token exchange requests; "" sends none.
	Resource string
	// Now is the clock token expiries are computed with; nil means time.Now.
	Now func() time.Time
}

// DPoPAlgorithms are the values dpopAlgorithm may have.
var DPoPAlgorithms = []string{"ES256", "EdDSA", "RS256"}

func (c Config) scopeSeparator() string {
	if c.ScopeSeparator == "" {
		return " "
	}
	return c.ScopeSeparator
}

func (c Config) scope() string {
	return strings.Join(c.Scopes, c.scopeSeparator())
}

func (c Config) refreshURI() string {
	if c.RefreshURI == "" {
		return c.TokenURI
	}
	return c.RefreshURI
}

func (c Config) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// ConfigFromMap builds a Config from the plain map a getOAuthConfig method
// returns. The keys are clientId, clientSecret, authorizeUri, tokenUri,
// refreshUri, deviceAuthorizationUri, scopes (an array of strings, or one string split on the
// separator), scopeSeparator, clientAuthLocation, tokenRequestFormat,
// tokenParams, refreshParams, tokenHeaders, extra (objects whose scalar
// values are stringified), skipPkce, noRefreshToken (booleans or "true" /
// "false"), grantType (with the token exchange grant also subjectToken,
// subjectTokenType, actorToken, actorTokenType, audience and
// requestedTokenType), resource (RFC 8707, any grant), defaultExpiresIn and refreshMargin (seconds, a number
// or a numeric string); with clientAuthLocation private_key_jwt or
// client_secret_jwt also clientPrivateKey, clientKeyId, clientAssertionAlg
// and clientAssertionAudience (see PrivateKeyJWT; beside a location that
// does not use them they are an error, see internal/clientauth). Values may be string,
// float64, any Go integer, bool, json.Number, []any, []string, map[string]any or map[string]string; nil
// values count as absent and unknown keys are ignored.
//
// Errors name the key, never a value that could be secret. tokenUri is
// required, and authorizeUri too for the authorization_code grant unless
// deviceAuthorizationUri is given; URIs must
// be absolute http or https URLs.
func ConfigFromMap(m map[string]any) (Config, error) {
	var c Config
	var err error
	str := func(key string) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = read.String(key, m[key])
		return s
	}
	strMap := func(key string) map[string]string {
		if err != nil {
			return nil
		}
		var sm map[string]string
		sm, err = read.StringMap(key, m[key])
		return sm
	}
	flag := func(key string) bool {
		if err != nil {
			return false
		}
		var b bool
		b, err = read.Bool(key, m[key])
		return b
	}
	c.ClientID = str("clientId")
	c.ClientSecret = str("clientSecret")
	c.AuthorizeURI = str("authorizeUri")
	c.TokenURI = str("tokenUri")
	c.RefreshURI = str("refreshUri")
	c.DeviceAuthorizationURI = str("deviceAuthorizationUri")
	c.ScopeSeparator = str("scopeSeparator")
	c.ClientAuthLocation = str("clientAuthLocation")
	c.TokenRequestFormat = str("tokenRequestFormat")
	c.GrantType = str("grantType")
	c.TokenParams = strMap("tokenParams")
	c.RefreshParams = strMap("refreshParams")
	c.TokenHeaders = strMap("tokenHeaders")
	c.Extra = strMap("extra")
	c.SkipPKCE = flag("skipPkce")
	c.NoRefreshToken = flag("noRefreshToken")
	c.DPoP = flag("dpop")
	c.DPoPAlgorithm = str("dpopAlgorithm")
	c.Resource = str("resource")
	if err != nil {
		return Config{}, err
	}
	if c.Scopes, err = read.Scopes(m["scopes"], c.scopeSeparator()); err != nil {
		return Config{}, err
	}
	if c.DefaultExpiresIn, err = read.Seconds("defaultExpiresIn", m["defaultExpiresIn"]); err != nil {
		return Config{}, err
	}
	c.RefreshMargin = DefaultRefreshMargin
	if v, ok := m["refreshMargin"]; ok && v != nil {
		if c.RefreshMargin, err = read.Seconds("refreshMargin", v); err != nil {
			return Config{}, err
		}
	}
	if err := c.assertionFromMap(m); err != nil {
		return Config{}, err
	}
	if err := c.tokenExchangeFromMap(m); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks the enums and URIs of c: tokenUri is required, and
// authorizeUri for the authorization_code grant. Errors name the key.
func (c Config) Validate() error {
	if err := read.OneOf("clientAuthLocation", c.ClientAuthLocation, clientauth.Locations...); err != nil {
		return err
	}
	if err := c.checkTLSClientAuth(); err != nil {
		return err
	}
	if err := read.OneOf("tokenRequestFormat", c.TokenRequestFormat, FormatForm, FormatJSON); err != nil {
		return err
	}
	if err := c.checkGrantAlias(); err != nil {
		return err
	}
	if err := read.OneOf("grantType", c.GrantType, GrantAuthorizationCode, GrantClientCredentials, GrantTokenExchange); err != nil {
		return err
	}
	if err := c.checkTokenExchange(); err != nil {
		return err
	}
	if err := read.OneOf("dpopAlgorithm", c.DPoPAlgorithm, DPoPAlgorithms...); err != nil {
		return err
	}
	if c.DPoPAlgorithm != "" && !c.DPoP {
		return fmt.Errorf("oauth2: dpopAlgorithm is set but dpop is not true")
	}
	if err := c.checkClientAssertion(); err != nil {
		return err
	}
	if err := checkResource(c.Resource); err != nil {
		return err
	}
	if c.TokenURI == "" {
		return fmt.Errorf("oauth2: tokenUri is required")
	}
	if c.AuthorizeURI == "" && c.DeviceAuthorizationURI == "" && c.GrantType != GrantClientCredentials && c.GrantType != GrantTokenExchange {
		return fmt.Errorf("oauth2: authorizeUri (or deviceAuthorizationUri, for the device flow only) is required for the authorization_code grant")
	}
	for _, u := range []struct{ key, val string }{
		{"authorizeUri", c.AuthorizeURI}, {"tokenUri", c.TokenURI}, {"refreshUri", c.RefreshURI}, {"deviceAuthorizationUri", c.DeviceAuthorizationURI},
	} {
		if u.val == "" {
			continue
		}
		if err := read.URL(u.key, u.val); err != nil {
			return err
		}
	}
	if c.DefaultExpiresIn < 0 {
		return fmt.Errorf("oauth2: defaultExpiresIn must not be negative")
	}
	return nil
}

// clientAuthLocation is ClientAuthLocation with its default filled in:
// both, as integration.app documents for an unset clientAuthLocation
// (console.integration.app/docs/connector-builder/authentication/types/oauth2,
// "Config Parameters").
func (c Config) clientAuthLocation() string {
	if c.ClientAuthLocation == "" {
		return AuthInBoth
	}
	return c.ClientAuthLocation
}

// read reads getOAuthConfig values; errors start with "oauth2:".
var read = mapvalue.Reader("oauth2")
