package oauth2

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Values of Config.ClientAuthLocation.
const (
	AuthInHeaders = "headers" // HTTP Basic (the default)
	AuthInBody    = "body"    // client_id and client_secret body fields
	AuthInBoth    = "both"    // both of the above
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
	// RefreshURI is where refresh requests go; "" means TokenURI.
	RefreshURI string
	// Scopes are requested in the authorize URL and in client_credentials
	// requests, joined with ScopeSeparator.
	Scopes []string
	// ScopeSeparator joins Scopes; "" means " ".
	ScopeSeparator string
	// ClientAuthLocation says where client credentials go on token requests:
	// "headers" ("" too; HTTP Basic with client_id and client_secret each
	// form-url-encoded, RFC 6749 section 2.3.1), "body" or "both".
	ClientAuthLocation string
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
	// GrantType is "authorization_code" ("" too) or "client_credentials".
	GrantType string
	// DefaultExpiresIn is the lifetime of tokens whose response has no
	// expiry; 0 means such tokens do not expire.
	DefaultExpiresIn time.Duration
	// RefreshMargin is how long before ExpiresAt the engine treats a token as
	// expired (see Token.Expired). ConfigFromMap defaults it to 60s.
	RefreshMargin time.Duration
	// Now is the clock token expiries are computed with; nil means time.Now.
	Now func() time.Time
}

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
// refreshUri, scopes (an array of strings, or one string split on the
// separator), scopeSeparator, clientAuthLocation, tokenRequestFormat,
// tokenParams, refreshParams, tokenHeaders, extra (objects whose scalar
// values are stringified), skipPkce, noRefreshToken (booleans or "true" /
// "false"), grantType, defaultExpiresIn and refreshMargin (seconds, a number
// or a numeric string). Values may be string, float64, any Go integer, bool,
// json.Number, []any, []string, map[string]any or map[string]string; nil
// values count as absent and unknown keys are ignored.
//
// Errors name the key, never a value that could be secret. tokenUri is
// required, and authorizeUri too for the authorization_code grant; URIs must
// be absolute http or https URLs.
func ConfigFromMap(m map[string]any) (Config, error) {
	var c Config
	var err error
	str := func(key string) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = scalarString(key, m[key])
		return s
	}
	strMap := func(key string) map[string]string {
		if err != nil {
			return nil
		}
		var sm map[string]string
		sm, err = stringMap(key, m[key])
		return sm
	}
	flag := func(key string) bool {
		if err != nil {
			return false
		}
		var b bool
		b, err = boolValue(key, m[key])
		return b
	}
	c.ClientID = str("clientId")
	c.ClientSecret = str("clientSecret")
	c.AuthorizeURI = str("authorizeUri")
	c.TokenURI = str("tokenUri")
	c.RefreshURI = str("refreshUri")
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
	if err != nil {
		return Config{}, err
	}
	if c.Scopes, err = scopeList(m["scopes"], c.scopeSeparator()); err != nil {
		return Config{}, err
	}
	if c.DefaultExpiresIn, err = seconds("defaultExpiresIn", m["defaultExpiresIn"]); err != nil {
		return Config{}, err
	}
	c.RefreshMargin = DefaultRefreshMargin
	if v, ok := m["refreshMargin"]; ok && v != nil {
		if c.RefreshMargin, err = seconds("refreshMargin", v); err != nil {
			return Config{}, err
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks the enums and URIs of c: tokenUri is required, and
// authorizeUri for the authorization_code grant. Errors name the key.
func (c Config) Validate() error {
	if err := oneOf("clientAuthLocation", c.ClientAuthLocation, AuthInHeaders, AuthInBody, AuthInBoth); err != nil {
		return err
	}
	if err := oneOf("tokenRequestFormat", c.TokenRequestFormat, FormatForm, FormatJSON); err != nil {
		return err
	}
	if err := oneOf("grantType", c.GrantType, GrantAuthorizationCode, GrantClientCredentials); err != nil {
		return err
	}
	if c.TokenURI == "" {
		return fmt.Errorf("oauth2: tokenUri is required")
	}
	if c.AuthorizeURI == "" && c.GrantType != GrantClientCredentials {
		return fmt.Errorf("oauth2: authorizeUri is required for the authorization_code grant")
	}
	for _, u := range []struct{ key, val string }{
		{"authorizeUri", c.AuthorizeURI}, {"tokenUri", c.TokenURI}, {"refreshUri", c.RefreshURI},
	} {
		if u.val == "" {
			continue
		}
		if err := checkURL(u.key, u.val); err != nil {
			return err
		}
	}
	if c.DefaultExpiresIn < 0 {
		return fmt.Errorf("oauth2: defaultExpiresIn must not be negative")
	}
	return nil
}

func oneOf(key, val string, allowed ...string) error {
	if val == "" {
		return nil
	}
	for _, a := range allowed {
		if val == a {
			return nil
		}
	}
	return fmt.Errorf("oauth2: %s must be one of %s, not %q", key, strings.Join(allowed, ", "), val)
}

// checkURL accepts absolute http(s) URLs. The value is not quoted in the
// error: URLs sometimes carry keys.
func checkURL(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("oauth2: %s must be an absolute http or https URL", key)
	}
	return nil
}

// scalarString stringifies a scalar; nil is "".
func scalarString(key string, v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "", fmt.Errorf("oauth2: %s is not a finite number", key)
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case float32:
		return scalarString(key, float64(v))
	case int:
		return strconv.Itoa(v), nil
	case int32:
		return strconv.FormatInt(int64(v), 10), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case json.Number:
		return v.String(), nil
	default:
		return "", fmt.Errorf("oauth2: %s must be a string, number or boolean, not %s", key, kind(v))
	}
}

func stringMap(key string, v any) (map[string]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case map[string]string:
		if len(v) == 0 {
			return nil, nil
		}
		out := make(map[string]string, len(v))
		for k, s := range v {
			out[k] = s
		}
		return out, nil
	case map[string]any:
		if len(v) == 0 {
			return nil, nil
		}
		out := make(map[string]string, len(v))
		for k, e := range v {
			if e == nil {
				continue // undefined is dropped
			}
			s, err := scalarString(key+"."+k, e)
			if err != nil {
				return nil, err
			}
			out[k] = s
		}
		return out, nil
	default:
		return nil, fmt.Errorf("oauth2: %s must be an object, not %s", key, kind(v))
	}
}

func boolValue(key string, v any) (bool, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		if v == "" {
			return false, nil
		}
		if b, err := strconv.ParseBool(v); err == nil {
			return b, nil
		}
	}
	return false, fmt.Errorf("oauth2: %s must be a boolean", key)
}

func scopeList(v any, sep string) ([]string, error) {
	var parts []string
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		parts = strings.Split(v, sep)
	case []string:
		parts = v
	case []any:
		for i, e := range v {
			if e == nil {
				continue
			}
			s, err := scalarString(fmt.Sprintf("scopes[%d]", i), e)
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
		}
	default:
		return nil, fmt.Errorf("oauth2: scopes must be an array of strings or a string, not %s", kind(v))
	}
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// seconds reads a non-negative number of seconds, a number or numeric string.
func seconds(key string, v any) (time.Duration, error) {
	if v == nil {
		return 0, nil
	}
	s, err := scalarString(key, v)
	if _, isBool := v.(bool); err != nil || isBool {
		return 0, fmt.Errorf("oauth2: %s must be a number of seconds", key)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, fmt.Errorf("oauth2: %s must be a non-negative number of seconds", key)
	}
	return secondsToDuration(f), nil
}

// maxLifetime keeps time arithmetic far from overflow.
const maxLifetime = 100 * 365 * 24 * time.Hour

func secondsToDuration(f float64) time.Duration {
	if f >= maxLifetime.Seconds() {
		return maxLifetime
	}
	return time.Duration(f * float64(time.Second))
}

func kind(v any) string {
	switch v.(type) {
	case []any, []string:
		return "an array"
	case map[string]any, map[string]string:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}
