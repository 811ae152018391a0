package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// ErrKey matches, with errors.Is, every error about a malformed,
// unsupported or inconsistent key or JWK.
var ErrKey = errors.New("dpop: invalid key")

// Bounds on RSA keys accepted from a JWK: smaller moduli are weak, larger
// ones let a sender make every verification expensive.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

var b64 = base64.RawURLEncoding

// JWK is a JSON Web Key (RFC 7517) as DPoP uses it: EC P-256/P-384, OKP
// Ed25519 or RSA. D and the RSA private members are set only in the store
// form ([Key.PrivateJWK]); [Key.PublicJWK] and proof headers never carry them.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Alg string `json:"alg,omitempty"`

	D  string `json:"d,omitempty"`
	P  string `json:"p,omitempty"`
	Q  string `json:"q,omitempty"`
	DP string `json:"dp,omitempty"`
	DQ string `json:"dq,omitempty"`
	QI string `json:"qi,omitempty"`
}

// keyErr builds an [ErrKey] error; what never contains key material.
func keyErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrKey}, args...)...)
}

// hasPrivate reports whether the JWK carries any private member.
func (j JWK) hasPrivate() bool {
	return j.D != "" || j.P != "" || j.Q != "" || j.DP != "" || j.DQ != "" || j.QI != ""
}

// public returns the JWK without its private members and without "alg".
func (j JWK) public() JWK {
	return JWK{Kty: j.Kty, Crv: j.Crv, X: j.X, Y: j.Y, N: j.N, E: j.E}
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the key, base64url
// without padding: the value of "jkt" in a token's "cnf" claim. Only the
// required members take part, in lexicographic order.
func (j JWK) Thumbprint() (string, error) {
	if _, err := j.PublicKey(); err != nil {
		return "", err
	}
	var canon any
	switch j.Kty {
	case "EC":
		canon = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{j.Crv, j.Kty, j.X, j.Y}
	case "OKP":
		canon = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
		}{j.Crv, j.Kty, j.X}
	case "RSA":
		canon = struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{j.E, j.Kty, j.N}
	}
	data, err := json.Marshal(canon)
	if err != nil {
		return "", keyErr("thumbprint: %v", err)
	}
	sum := sha256.Sum256(data)
	return b64.EncodeToString(sum[:]), nil
}

// PublicKey decodes the public half of the JWK into an *ecdsa.PublicKey,
// ed25519.PublicKey or *rsa.PublicKey, checking that EC points lie on their
// curve, that coordinates have their full length and that RSA keys are of a
// sane size.
func (j JWK) PublicKey() (crypto.PublicKey, error) {
	switch j.Kty {
	case "EC":
		curve, size, err := curveOf(j.Crv)
		if err != nil {
			return nil, err
		}
		x, err := fixedB64("x", j.X, size)
		if err != nil {
			return nil, err
		}
		y, err := fixedB64("y", j.Y, size)
		if err != nil {
			return nil, err
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, keyErr("EC point is not on curve %s", j.Crv)
		}
		return pub, nil
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, keyErr("unsupported OKP curve %q (want Ed25519)", clip(j.Crv))
		}
		x, err := fixedB64("x", j.X, ed25519.PublicKeySize)
		if err != nil {
			return nil, err
		}
		return ed25519.PublicKey(x), nil
	case "RSA":
		return rsaPublic(j.N, j.E)
	case "":
		return nil, keyErr("JWK has no \"kty\"")
	default:
		return nil, keyErr("unsupported key type %q (want EC, OKP or RSA)", clip(j.Kty))
	}
}

func curveOf(crv string) (elliptic.Curve, int, error) {
	switch crv {
	case "P-256":
		return elliptic.P256(), 32, nil
	case "P-384":
		return elliptic.P384(), 48, nil
	}
	return nil, 0, keyErr("unsupported EC curve %q (want P-256 or P-384)", clip(crv))
}

// fixedB64 decodes a base64url member that must have exactly size bytes.
func fixedB64(name, s string, size int) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, keyErr("member %q is not base64url without padding", name)
	}
	if len(b) != size {
		return nil, keyErr("member %q has %d bytes, want %d", name, len(b), size)
	}
	return b, nil
}

// bigB64 decodes a base64url unsigned integer member.
func bigB64(name, s string) (*big.Int, error) {
	b, err := b64.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, keyErr("member %q is not a base64url integer", name)
	}
	return new(big.Int).SetBytes(b), nil
}

func rsaPublic(n, e string) (*rsa.PublicKey, error) {
	if len(n) > maxRSABits/6+4 {
		return nil, keyErr("RSA modulus longer than %d bits", maxRSABits)
	}
	nn, err := bigB64("n", n)
	if err != nil {
		return nil, err
	}
	ee, err := bigB64("e", e)
	if err != nil {
		return nil, err
	}
	if bits := nn.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, keyErr("RSA modulus has %d bits, want %d to %d", bits, minRSABits, maxRSABits)
	}
	if !ee.IsInt64() || ee.Int64() < 3 || ee.Int64() > 1<<31-1 || ee.Bit(0) == 0 {
		return nil, keyErr("RSA exponent is not an odd number between 3 and 2^31-1")
	}
	return &rsa.PublicKey{N: nn, E: int(ee.Int64())}, nil
}

// publicJWK encodes a public key as a JWK.
func publicJWK(pub crypto.PublicKey) (JWK, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			return JWK{}, keyErr("EC key: %v", err)
		}
		size := (len(raw) - 1) / 2
		crv := map[int]string{32: "P-256", 48: "P-384"}[size]
		if crv == "" {
			return JWK{}, keyErr("unsupported EC curve (want P-256 or P-384)")
		}
		return JWK{Kty: "EC", Crv: crv, X: b64.EncodeToString(raw[1 : 1+size]), Y: b64.EncodeToString(raw[1+size:])}, nil
	case ed25519.PublicKey:
		return JWK{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(k)}, nil
	case *rsa.PublicKey:
		return JWK{Kty: "RSA", N: b64.EncodeToString(k.N.Bytes()), E: b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())}, nil
	}
	return JWK{}, keyErr("unsupported public key type %T", pub)
}

// clip shortens a value echoed in an error; the values it is used for are
// names (kty, crv, alg), never key material.
func clip(s string) string {
	const max = 32
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
