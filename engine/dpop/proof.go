package dpop

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ProofType is the "typ" header of a DPoP proof.
const ProofType = "dpop+jwt"

// ProofOptions are the request-dependent parts of a proof beyond its
// method and URL.
type ProofOptions struct {
	// AccessToken, when set, is bound to the proof through "ath": set it
	// for requests to a resource server, leave it empty for token requests.
	AccessToken string
	// Nonce is the server's last DPoP-Nonce for the request's origin.
	Nonce string
	// Now is the proof's issue time; the zero value means time.Now.
	Now time.Time
}

// proofClaims are the claims of a DPoP proof (RFC 9449 section 4.2).
type proofClaims struct {
	JTI   string           `json:"jti"`
	HTM   string           `json:"htm"`
	HTU   string           `json:"htu"`
	IAT   *jwt.NumericDate `json:"iat"` // RFC 7519 allows fractions; proofs send whole seconds
	Nonce string           `json:"nonce,omitempty"`
	ATH   string           `json:"ath,omitempty"`
}

// GetExpirationTime and the other jwt.Claims methods: a proof has none of
// these registered claims but iat, which the Verifier checks itself.
func (proofClaims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (c proofClaims) GetIssuedAt() (*jwt.NumericDate, error)     { return c.IAT, nil }
func (proofClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (proofClaims) GetIssuer() (string, error)                   { return "", nil }
func (proofClaims) GetSubject() (string, error)                  { return "", nil }
func (proofClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// Proof returns a DPoP proof JWT for a request with the given method and
// absolute URL. The URL's query and fragment are left out of "htu"
// (RFC 9449 section 4.2); each proof has a fresh random "jti".
func (k Key) Proof(method, rawURL string, opts ProofOptions) (string, error) {
	if !k.valid() {
		return "", errZeroKey
	}
	if method == "" || strings.ContainsAny(method, " \t\r\n") {
		return "", fmt.Errorf("dpop: invalid HTTP method %q", clip(method))
	}
	htu, err := HTU(rawURL)
	if err != nil {
		return "", err
	}
	jti, err := newJTI()
	if err != nil {
		return "", err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	claims := proofClaims{JTI: jti, HTM: method, HTU: htu, IAT: jwt.NewNumericDate(now.Truncate(time.Second)), Nonce: opts.Nonce}
	if opts.AccessToken != "" {
		claims.ATH = AccessTokenHash(opts.AccessToken)
	}
	tok := jwt.NewWithClaims(k.k.method, claims)
	tok.Header["typ"] = ProofType
	tok.Header["jwk"] = k.k.pub
	s, err := tok.SignedString(k.k.signer)
	if err != nil {
		return "", fmt.Errorf("dpop: signing proof with %s: %w", k.k.alg, err)
	}
	return s, nil
}

// AccessTokenHash returns "ath" for an access token: the base64url SHA-256
// of its ASCII form (RFC 9449 section 4.2).
func AccessTokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return b64.EncodeToString(sum[:])
}

// ErrURL matches, with errors.Is, errors about a URL a proof cannot be
// bound to.
var ErrURL = errors.New("dpop: invalid request URL")

// HTU returns the "htu" of a request URL: scheme, host and path, without
// userinfo, query and fragment, normalised as RFC 3986 section 6.2.2-6.2.3
// asks (lower-case scheme and host, no default port, "/" for an empty
// path) so that client and server compare the same string.
func HTU(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("%w: it does not parse", ErrURL)
	}
	return htuOf(u)
}

func htuOf(u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", fmt.Errorf("%w: scheme %q is not http or https", ErrURL, clip(u.Scheme))
	}
	if u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("%w: it is not an absolute URL with a host", ErrURL)
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port := u.Port(); port != "" && !(scheme == "https" && port == "443" || scheme == "http" && port == "80") {
		host += ":" + port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

// newJTI returns 128 random bits, base64url (RFC 9449 asks for at least 96).
func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("dpop: random jti: %w", err)
	}
	return b64.EncodeToString(b[:]), nil
}
