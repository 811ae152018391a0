package jwtgrant

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultLifetime is how long an assertion is valid when Claims.Lifetime is
// zero. Assertions are used at once; short ones limit replay. Salesforce
// wants three minutes at most: set Lifetime there.
const DefaultLifetime = 5 * time.Minute

// MaxLifetime is the longest Claims.Lifetime accepted (Google's limit, and
// far more than any token request needs).
const MaxLifetime = time.Hour

// Claims are the claims of an assertion (RFC 7523 section 3).
type Claims struct {
	// Issuer is "iss": the client id, a service account's e-mail, an app
	// id. Required.
	Issuer string
	// Subject is "sub": the user the token is for, or the client id in a
	// client assertion. Omitted when empty (Google service accounts without
	// domain-wide delegation send none).
	Subject string
	// Audience is "aud": the token endpoint URL or the authorization
	// server's issuer identifier. At least one is required; one value is
	// sent as a string, several as an array.
	Audience []string
	// Scope is the "scope" claim (Google), omitted when empty. The token
	// request's scope parameter is separate.
	Scope string
	// Lifetime is exp minus now; 0 means DefaultLifetime, more than
	// MaxLifetime is refused.
	Lifetime time.Duration
	// ClockSkew backdates "iat" (and "nbf" is not sent), for servers whose
	// clock may run behind ours: GitHub asks for 60 seconds.
	ClockSkew time.Duration
	// Extra are further claims (DocuSign, Salesforce, ...). They cannot
	// replace the registered claims this struct sets.
	Extra map[string]any
}

// reserved are the claims Sign sets; Extra may not carry them.
var reserved = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope"}

// Sign makes the signed assertion for c at now: header alg, typ "JWT" and
// kid (when the key has one); claims iss, sub, aud, scope, iat (now minus
// ClockSkew), exp (now plus Lifetime), a random jti, and Extra.
//
// It refuses claims that would make an assertion the server rejects or
// misreads: no issuer, no audience, an empty audience value, a lifetime
// that is negative or over MaxLifetime, a negative skew, and Extra claims
// that shadow a registered one. Errors never contain key material.
func (k *Key) Sign(c Claims, now time.Time) (string, error) {
	if k == nil || k.method == nil {
		return "", errors.New("jwtgrant: no signing key")
	}
	mc, err := c.mapClaims(now)
	if err != nil {
		return "", err
	}
	return k.sign(mc)
}

func (c Claims) mapClaims(now time.Time) (jwt.MapClaims, error) {
	if strings.TrimSpace(c.Issuer) == "" {
		return nil, errors.New("jwtgrant: the assertion needs an issuer (iss)")
	}
	if len(c.Audience) == 0 {
		return nil, errors.New("jwtgrant: the assertion needs an audience (aud)")
	}
	if slices.Contains(c.Audience, "") {
		return nil, errors.New("jwtgrant: the assertion's audience (aud) has an empty value")
	}
	lifetime := c.Lifetime
	switch {
	case lifetime == 0:
		lifetime = DefaultLifetime
	case lifetime < time.Second:
		return nil, fmt.Errorf("jwtgrant: assertion lifetime %v is too short (at least 1s)", c.Lifetime)
	case lifetime > MaxLifetime:
		return nil, fmt.Errorf("jwtgrant: assertion lifetime %v is longer than the %v allowed", c.Lifetime, MaxLifetime)
	}
	if c.ClockSkew < 0 || c.ClockSkew > MaxLifetime {
		return nil, fmt.Errorf("jwtgrant: clock skew %v must be between 0 and %v", c.ClockSkew, MaxLifetime)
	}
	mc := jwt.MapClaims{}
	for name, v := range c.Extra {
		if slices.Contains(reserved, name) {
			return nil, fmt.Errorf("jwtgrant: extra claim %q is set by the assertion itself; use its own field", name)
		}
		mc[name] = v
	}
	mc["iss"] = c.Issuer
	if c.Subject != "" {
		mc["sub"] = c.Subject
	}
	if len(c.Audience) == 1 {
		mc["aud"] = c.Audience[0]
	} else {
		mc["aud"] = slices.Clone(c.Audience)
	}
	if c.Scope != "" {
		mc["scope"] = c.Scope
	}
	mc["iat"] = now.Add(-c.ClockSkew).Unix()
	mc["exp"] = now.Add(lifetime).Unix()
	mc["jti"] = newID()
	return mc, nil
}

// sign serialises and signs claims with k's algorithm and kid.
func (k *Key) sign(claims jwt.Claims) (string, error) {
	tok := jwt.NewWithClaims(k.method, claims)
	if k.KeyID != "" {
		tok.Header["kid"] = k.KeyID
	}
	s, err := tok.SignedString(k.secret)
	if err != nil {
		// golang-jwt's errors name the failure, not the key; still, keep
		// only a fixed text in case an encoder echoes a claim value.
		return "", fmt.Errorf("jwtgrant: signing the %s assertion failed (are the extra claims JSON values?)", k.method.Alg())
	}
	return s, nil
}

// signingInput signs a prepared JWS signing input, for the RFC 7515 vectors.
func (k *Key) signingInput(input string) ([]byte, error) {
	return k.method.Sign(input, k.secret)
}

// newID is a random 128-bit jti, so that a server can refuse a replayed
// assertion (RFC 7523 section 3, item 7).
func newID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
