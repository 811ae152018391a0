// Package jwtgrant signs the JWTs that OAuth 2.0 assertion flows send
// (RFC 7523): the assertion of the JWT bearer grant (section 2.1), client
// assertions for private_key_jwt and client_secret_jwt (section 2.2) and the
// JWT a GitHub App authenticates as itself with. It parses the private keys
// those flows use (PEM PKCS#1, PKCS#8, SEC 1; Google service-account JSON key
// files) and exchanges a GitHub App JWT for an installation token.
//
// The token request of the JWT bearer grant and client assertions live in
// engine/oauth2 (Config.JWTBearer, PrivateKeyJWT, ClientSecretJWT), which
// build on this package. No error, and no formatting of a [Key], contains
// key material.
package jwtgrant

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// MinRSABits is the smallest RSA modulus accepted: RFC 7518 section 3.3
// requires 2048 bits or more for RS* and PS*.
const MinRSABits = 2048

// maxPEM bounds the PEM text read; a private key is a few KiB.
const maxPEM = 64 << 10

// Key is a private key together with the JWS algorithm it signs with and
// an optional key id (the "kid" header). It is safe for concurrent use.
// Formatting a Key with fmt shows its algorithm and key id, never the key.
type Key struct {
	method jwt.SigningMethod
	secret any // *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey or []byte (HMAC)
	// KeyID is sent as the JWS "kid" header when not empty.
	KeyID string
}

// Algorithm is the JWS "alg" the key signs with, such as "RS256".
func (k *Key) Algorithm() string { return k.method.Alg() }

// Public is the public key that verifies k's signatures; nil for an HMAC
// key.
func (k *Key) Public() crypto.PublicKey {
	if s, ok := k.secret.(crypto.Signer); ok {
		return s.Public()
	}
	return nil
}

// String describes the key without its material. It has a value receiver
// so that a Key held by value in another struct is not printed field by
// field either.
func (k Key) String() string {
	if k.method == nil {
		return "jwtgrant.Key(empty)"
	}
	if k.KeyID != "" {
		return fmt.Sprintf("jwtgrant.Key(%s, kid %q)", k.method.Alg(), k.KeyID)
	}
	return fmt.Sprintf("jwtgrant.Key(%s)", k.method.Alg())
}

// GoString is String, so that %#v does not print the key either.
func (k Key) GoString() string { return k.String() }

// algorithms maps each accepted asymmetric "alg" to the key type it needs.
var algorithms = map[string]struct {
	method jwt.SigningMethod
	fits   func(any) bool
}{
	"RS256": {jwt.SigningMethodRS256, isRSA},
	"RS384": {jwt.SigningMethodRS384, isRSA},
	"RS512": {jwt.SigningMethodRS512, isRSA},
	"PS256": {jwt.SigningMethodPS256, isRSA},
	"PS384": {jwt.SigningMethodPS384, isRSA},
	"PS512": {jwt.SigningMethodPS512, isRSA},
	"ES256": {jwt.SigningMethodES256, isCurve(elliptic.P256())},
	"ES384": {jwt.SigningMethodES384, isCurve(elliptic.P384())},
	"ES512": {jwt.SigningMethodES512, isCurve(elliptic.P521())},
	"EdDSA": {jwt.SigningMethodEdDSA, isEd25519},
}

// Algorithms lists the "alg" values ParsePrivateKey accepts.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

func isRSA(k any) bool     { _, ok := k.(*rsa.PrivateKey); return ok }
func isEd25519(k any) bool { _, ok := k.(ed25519.PrivateKey); return ok }
func isCurve(c elliptic.Curve) func(any) bool {
	return func(k any) bool { e, ok := k.(*ecdsa.PrivateKey); return ok && e.Curve == c }
}

// defaultAlgorithm is the algorithm a key signs with when none is named:
// RS256 for RSA (the one every provider accepts), ES256/ES384/ES512 by
// curve, EdDSA for Ed25519.
func defaultAlgorithm(k any) (string, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return "RS256", nil
	case ed25519.PrivateKey:
		return "EdDSA", nil
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
		return "", errors.New("jwtgrant: privateKey: EC keys must use curve P-256, P-384 or P-521")
	}
	return "", fmt.Errorf("jwtgrant: privateKey: unsupported key type %T", k)
}

// ParsePrivateKey reads a PEM private key and pairs it with alg ("" picks
// the key's natural algorithm: RS256, ES256/ES384/ES512 by curve, EdDSA).
// Accepted blocks are "PRIVATE KEY" (PKCS#8: RSA, EC, Ed25519), "RSA
// PRIVATE KEY" (PKCS#1) and "EC PRIVATE KEY" (SEC 1); other blocks such as
// "EC PARAMETERS" or certificates are skipped. A key pasted with literal
// "\n" sequences instead of line breaks (as in JSON or environment
// variables) is read too.
//
// It refuses, naming the reason: input over 64 KiB, input without a private key, more than one
// private key, encrypted keys, RSA keys under MinRSABits, and an alg that
// the key cannot sign with (RS256 with an EC key, ES256 with a P-384 key,
// ...). Errors never contain key material.
func ParsePrivateKey(pemText []byte, alg string) (*Key, error) {
	priv, err := decodePEM(pemText)
	if err != nil {
		return nil, err
	}
	if alg == "" {
		if alg, err = defaultAlgorithm(priv); err != nil {
			return nil, err
		}
	}
	a, ok := algorithms[alg]
	if !ok {
		return nil, fmt.Errorf("jwtgrant: unsupported signing algorithm %q (supported: %s)", alg, strings.Join(Algorithms, ", "))
	}
	if !a.fits(priv) {
		return nil, fmt.Errorf("jwtgrant: algorithm %s cannot sign with this %s key", alg, keyKind(priv))
	}
	if r, ok := priv.(*rsa.PrivateKey); ok && r.N.BitLen() < MinRSABits {
		return nil, fmt.Errorf("jwtgrant: privateKey: RSA key has %d bits, at least %d are required (RFC 7518 section 3.3)", r.N.BitLen(), MinRSABits)
	}
	return &Key{method: a.method, secret: priv}, nil
}

// keyKind names a key's type for an error.
func keyKind(k any) string {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return "RSA"
	case ed25519.PrivateKey:
		return "Ed25519"
	case *ecdsa.PrivateKey:
		return "EC " + k.Curve.Params().Name
	}
	return fmt.Sprintf("%T", k)
}

// decodePEM finds the one private key in pemText.
func decodePEM(pemText []byte) (any, error) {
	if len(pemText) > maxPEM {
		return nil, fmt.Errorf("jwtgrant: privateKey is larger than %d bytes", maxPEM)
	}
	text := strings.TrimSpace(string(pemText))
	if !strings.Contains(text, "\n") && strings.Contains(text, `\n`) {
		text = strings.ReplaceAll(text, `\n`, "\n")
	}
	rest := []byte(text)
	var found any
	var sawPublic, sawCert bool
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if _, enc := block.Headers["Proc-Type"]; enc || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("jwtgrant: privateKey is encrypted; decrypt it first (openssl pkcs8 -topk8 -nocrypt)")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "PUBLIC KEY", "RSA PUBLIC KEY":
			sawPublic = true
			continue
		case "CERTIFICATE":
			sawCert = true
			continue
		default:
			continue
		}
		if err != nil {
			// The parser's text is left out: it is about the key's bytes.
			return nil, fmt.Errorf("jwtgrant: privateKey: the %q PEM block is not a valid private key", block.Type)
		}
		if found != nil {
			return nil, errors.New("jwtgrant: privateKey holds more than one private key; give exactly one")
		}
		found = key
	}
	switch {
	case found != nil:
		return found, nil
	case sawPublic:
		return nil, errors.New("jwtgrant: privateKey holds a public key; the private key is needed to sign")
	case sawCert:
		return nil, errors.New("jwtgrant: privateKey holds only a certificate; the private key is needed to sign")
	}
	return nil, errors.New("jwtgrant: privateKey is not a PEM private key (-----BEGIN PRIVATE KEY-----)")
}

// hmacAlgorithms are the algorithms of NewHMACKey with their minimum key
// length in bytes: the hash size, as RFC 7518 section 3.2 requires.
var hmacAlgorithms = map[string]struct {
	method jwt.SigningMethod
	min    int
}{
	"HS256": {jwt.SigningMethodHS256, 32},
	"HS384": {jwt.SigningMethodHS384, 48},
	"HS512": {jwt.SigningMethodHS512, 64},
}

// NewHMACKey makes a key that signs with a shared secret (client_secret_jwt):
// alg is HS256 ("" too), HS384 or HS512. A secret shorter than the hash
// output is refused (RFC 7518 section 3.2); the error gives only lengths.
func NewHMACKey(secret []byte, alg string) (*Key, error) {
	if alg == "" {
		alg = "HS256"
	}
	a, ok := hmacAlgorithms[alg]
	if !ok {
		return nil, fmt.Errorf("jwtgrant: unsupported HMAC algorithm %q (supported: HS256, HS384, HS512)", alg)
	}
	if len(secret) < a.min {
		return nil, fmt.Errorf("jwtgrant: %s needs a client secret of at least %d bytes, this one has %d (RFC 7518 section 3.2)", alg, a.min, len(secret))
	}
	return &Key{method: a.method, secret: append([]byte(nil), secret...)}, nil
}
