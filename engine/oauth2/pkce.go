package oauth2

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// NewVerifier returns a PKCE code verifier (RFC 7636 section 4.1): 32 bytes
// from crypto/rand, base64url-encoded without padding, which gives 43
// characters of the unreserved set.
func NewVerifier() (string, error) {
	return randomString(32)
}

// S256Challenge returns the S256 code challenge of a verifier:
// BASE64URL(SHA256(verifier)) without padding (RFC 7636 section 4.2).
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NewState returns an unguessable value for the state parameter: 32 bytes
// from crypto/rand, base64url-encoded without padding.
func NewState() (string, error) {
	return randomString(32)
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("oauth2: reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
