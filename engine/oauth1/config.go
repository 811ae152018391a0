package oauth1

import (
	"github.com/connspec/connspec/internal/mapvalue"

	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Values of Config.SignatureMethod.
const (
	HMACSHA1   = "HMAC-SHA1" // the default
	HMACSHA256 = "HMAC-SHA256"
	RSASHA1    = "RSA-SHA1"
	PLAINTEXT  = "PLAINTEXT"
)

// Values of Config.Placement.
const (
	PlacementHeader = "header" // Authorization: OAuth ... (the default, RFC 5849 section 3.5.1)
	PlacementQuery  = "query"  // the request URI's query (section 3.5.3)
	PlacementBody   = "body"   // a form-encoded request body (section 3.5.2)
)

// Config is the normalised result of a connector's getOAuthConfig method for
// the oauth1 auth type. The zero value of each field means its documented
// default, so a Config can be built directly as well as with ConfigFromMap.
// A Config is safe for concurrent use as long as nobody modifies it.
type Config struct {
	// ConsumerKey and ConsumerSecret are the client credentials.
	ConsumerKey, ConsumerSecret string
	// RequestTokenURI is the temporary credential request endpoint,
	// AuthorizeURI the resource owner authorization endpoint (its query is
	// kept), TokenURI the token request endpoint. They are only needed for
	// the three-legged flow; connections whose tokens are issued elsewhere
	// (NetSuite token-based auth) sign requests without them.
	RequestTokenURI, AuthorizeURI, TokenURI string
	// Scopes are sent as the scope parameter of the temporary credential
	// request when not empty (Google's OAuth 1.0 did so), joined with
	// ScopeSeparator.
	Scopes []string
	// ScopeSeparator joins Scopes; "" means " ".
	ScopeSeparator string
	// Extra are extra query parameters of the authorization URL (Trello:
	// name, expiration, scope). They cannot replace oauth_token.
	Extra map[string]string
	// SignatureMethod is "HMAC-SHA1" ("" too), "HMAC-SHA256", "RSA-SHA1" or
	// "PLAINTEXT".
	SignatureMethod string
	// PrivateKey is the PEM RSA private key (PKCS #1 or PKCS #8) for RSA-SHA1.
	PrivateKey string
	// Realm is sent as the realm of the Authorization header when not empty
	// (NetSuite wants the account id). It is never part of the signature
	// base string and is not sent with query or body placement.
	Realm string
	// Placement says where the protocol parameters go: "header" ("" too),
	// "query" or "body" (form-encoded bodies only).
	Placement string
	// Version is sent as oauth_version when not empty; it may only be "1.0".
	Version string
	// Now is the clock of oauth_timestamp; nil means time.Now.
	Now func() time.Time
	// Nonce makes oauth_nonce; nil means 128 random bits from crypto/rand,
	// hex-encoded.
	Nonce func() string
}

func (c Config) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c Config) nonce() string {
	if c.Nonce != nil {
		return c.Nonce()
	}
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b[:])
}

func (c Config) signatureMethod() string {
	if c.SignatureMethod == "" {
		return HMACSHA1
	}
	return c.SignatureMethod
}

func (c Config) placement() string {
	if c.Placement == "" {
		return PlacementHeader
	}
	return c.Placement
}

func (c Config) scope() string {
	sep := c.ScopeSeparator
	if sep == "" {
		sep = " "
	}
	return strings.Join(c.Scopes, sep)
}

// ConfigFromMap builds a Config from the plain map a getOAuthConfig method
// returns. The keys are consumerKey, consumerSecret, requestTokenUri,
// authorizeUri, tokenUri, scopes (an array of strings, or one string split on
// the separator), scopeSeparator, extra (an object whose scalar values are
// stringified), signatureMethod (case-insensitive), privateKey, realm,
// placement and version. Values may be string, float64, any Go integer,
// bool, json.Number, []any, []string, map[string]any or map[string]string;
// nil values count as absent and unknown keys are ignored.
//
// Errors name the key, never a value that could be secret. consumerKey is
// required, URIs must be absolute http or https URLs, and RSA-SHA1 needs a
// privateKey that parses.
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
	c.ConsumerKey = str("consumerKey")
	c.ConsumerSecret = str("consumerSecret")
	c.RequestTokenURI = str("requestTokenUri")
	c.AuthorizeURI = str("authorizeUri")
	c.TokenURI = str("tokenUri")
	c.ScopeSeparator = str("scopeSeparator")
	c.SignatureMethod = strings.ToUpper(strings.TrimSpace(str("signatureMethod")))
	c.PrivateKey = str("privateKey")
	c.Realm = str("realm")
	c.Placement = strings.ToLower(strings.TrimSpace(str("placement")))
	c.Version = strings.TrimSpace(str("version"))
	if err != nil {
		return Config{}, err
	}
	if c.Extra, err = read.StringMap("extra", m["extra"]); err != nil {
		return Config{}, err
	}
	sep := c.ScopeSeparator
	if sep == "" {
		sep = " "
	}
	if c.Scopes, err = read.Scopes(m["scopes"], sep); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks c: consumerKey is required, the enums must be known, URIs
// absolute http or https URLs, and RSA-SHA1 needs a privateKey that parses.
// Errors name the key, never its value.
func (c Config) Validate() error {
	if c.ConsumerKey == "" {
		return fmt.Errorf("oauth1: consumerKey is required")
	}
	if err := read.OneOf("signatureMethod", c.SignatureMethod, HMACSHA1, HMACSHA256, RSASHA1, PLAINTEXT); err != nil {
		return err
	}
	if err := read.OneOf("placement", c.Placement, PlacementHeader, PlacementQuery, PlacementBody); err != nil {
		return err
	}
	if err := read.OneOf("version", c.Version, "1.0"); err != nil {
		return err
	}
	for _, u := range []struct{ key, val string }{
		{"requestTokenUri", c.RequestTokenURI}, {"authorizeUri", c.AuthorizeURI}, {"tokenUri", c.TokenURI},
	} {
		if u.val == "" {
			continue
		}
		if err := read.URL(u.key, u.val); err != nil {
			return err
		}
	}
	if err := checkRealm(c.Realm); err != nil {
		return err
	}
	if c.SignatureMethod == RSASHA1 {
		if _, err := parsePrivateKey(c.PrivateKey); err != nil {
			return err
		}
	}
	return nil
}

// read reads getOAuthConfig values; errors start with "oauth1:".
var read = mapvalue.Reader("oauth1")
