package dpop

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithms a [Key] can be generated for. ES256 is the default: small
// proofs, fast signing, and the one every DPoP server supports.
const (
	ES256 = "ES256"
	EdDSA = "EdDSA"
	RS256 = "RS256"
)

// rsaGenBits is the size of generated RSA keys.
const rsaGenBits = 2048

// maxKeyJSON bounds the store form [ParseKey] reads (an 8192-bit RSA JWK
// with all CRT members is under 7 KiB).
const maxKeyJSON = 16 << 10

// Key is a DPoP key pair. It is immutable and safe for concurrent use. Its
// private half is never printed: String, Format, LogValue and MarshalJSON
// show only the algorithm and the thumbprint. Keep a key with
// [Key.PrivateJWK] and [ParseKey].
type Key struct {
	// Behind a pointer so that printing a struct holding a Key by reflection
	// shows an address, never the private key's fields.
	k *keyData
}

type keyData struct {
	alg    string
	method jwt.SigningMethod
	signer crypto.Signer
	pub    JWK // public members only
	jkt    string
}

// GenerateKey makes a new key pair for alg: [ES256] (also for ""), [EdDSA]
// or [RS256].
func GenerateKey(alg string) (Key, error) {
	var (
		signer crypto.Signer
		err    error
	)
	switch alg {
	case "", ES256:
		alg = ES256
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	case RS256:
		signer, err = rsa.GenerateKey(rand.Reader, rsaGenBits)
	default:
		return Key{}, keyErr("unsupported algorithm %q (want ES256, EdDSA or RS256)", clip(alg))
	}
	if err != nil {
		return Key{}, fmt.Errorf("dpop: generating %s key: %w", alg, err)
	}
	return newKey(alg, signer)
}

// newKey checks that alg fits the signer and derives the public JWK and
// thumbprint once.
func newKey(alg string, signer crypto.Signer) (Key, error) {
	method := jwt.GetSigningMethod(alg)
	if method == nil {
		return Key{}, keyErr("unsupported algorithm %q", clip(alg))
	}
	if err := algFitsKey(alg, signer.Public()); err != nil {
		return Key{}, err
	}
	pub, err := publicJWK(signer.Public())
	if err != nil {
		return Key{}, err
	}
	jkt, err := pub.Thumbprint()
	if err != nil {
		return Key{}, err
	}
	return Key{&keyData{alg: alg, method: method, signer: signer, pub: pub, jkt: jkt}}, nil
}

// algFitsKey reports an error when the JWS algorithm cannot be used with
// the public key (RFC 7518 section 3.1).
func algFitsKey(alg string, pub crypto.PublicKey) error {
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ok = alg == "ES256" && k.Curve == elliptic.P256() || alg == "ES384" && k.Curve == elliptic.P384()
	case ed25519.PublicKey:
		ok = alg == "EdDSA"
	case *rsa.PublicKey:
		ok = alg == "RS256" || alg == "RS384" || alg == "RS512" || alg == "PS256" || alg == "PS384" || alg == "PS512"
	}
	if !ok {
		return keyErr("algorithm %q does not fit a %s key", clip(alg), keyKind(pub))
	}
	return nil
}

func keyKind(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "EC " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case *rsa.PublicKey:
		return "RSA"
	}
	return fmt.Sprintf("%T", pub)
}

// valid reports whether the key was made by GenerateKey or ParseKey.
func (k Key) valid() bool { return k.k != nil }

// errZeroKey is returned when a method needs a key and gets the zero Key.
var errZeroKey = keyErr("the zero Key has no key pair (use GenerateKey or ParseKey)")

// Algorithm returns the JWS algorithm of proofs signed with the key.
func (k Key) Algorithm() string {
	if !k.valid() {
		return ""
	}
	return k.k.alg
}

// PublicJWK returns the public key as a JWK (no private members, no "alg").
func (k Key) PublicJWK() JWK {
	if !k.valid() {
		return JWK{}
	}
	return k.k.pub
}

// Thumbprint returns the key's RFC 7638 SHA-256 thumbprint, the "jkt" a
// server binds tokens to ("dpop_jkt" in an authorization request).
func (k Key) Thumbprint() string {
	if !k.valid() {
		return ""
	}
	return k.k.jkt
}

// String describes the key by algorithm and thumbprint only.
func (k Key) String() string {
	if !k.valid() {
		return "dpop.Key(none)"
	}
	return "dpop.Key(" + k.k.alg + ", jkt=" + k.k.jkt + ")"
}

// Format prints [Key.String] for every verb, so no verb (%#v, %+v, %x)
// reaches the private key.
func (k Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue logs the key as [Key.String].
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// errImplicitJSON is returned by MarshalJSON: a silent public-only encoding
// would lose the key, a private one would leak it through any log encoder.
var errImplicitJSON = errors.New("dpop: a Key is not encoded implicitly; use Key.PrivateJWK for the store or Key.PublicJWK")

// MarshalJSON refuses: see [Key.PrivateJWK] and [Key.PublicJWK].
func (k Key) MarshalJSON() ([]byte, error) { return nil, errImplicitJSON }

// PrivateJWK returns the store form of the key: a private JWK (RFC 7517/7518)
// with "alg". It is a secret: keep it sealed like a refresh token.
func (k Key) PrivateJWK() ([]byte, error) {
	if !k.valid() {
		return nil, errZeroKey
	}
	j := k.k.pub
	j.Alg = k.k.alg
	switch s := k.k.signer.(type) {
	case *ecdsa.PrivateKey:
		d, err := s.Bytes()
		if err != nil {
			return nil, keyErr("EC key: %v", err)
		}
		j.D = b64.EncodeToString(d)
	case ed25519.PrivateKey:
		j.D = b64.EncodeToString(s.Seed())
	case *rsa.PrivateKey:
		if len(s.Primes) != 2 {
			return nil, keyErr("multi-prime RSA keys cannot be stored as a JWK")
		}
		enc := func(i *big.Int) string { return b64.EncodeToString(i.Bytes()) }
		j.D, j.P, j.Q = enc(s.D), enc(s.Primes[0]), enc(s.Primes[1])
		j.DP, j.DQ, j.QI = enc(s.Precomputed.Dp), enc(s.Precomputed.Dq), enc(s.Precomputed.Qinv)
	default:
		return nil, keyErr("unsupported signer %T", s)
	}
	return json.Marshal(j)
}

// ParseKey reads the store form written by [Key.PrivateJWK]: a private JWK
// with "alg" (ES256, ES384, EdDSA, RS256, RS384, RS512, PS256, PS384 or
// PS512). The public members must match the private ones. Errors never
// contain key material.
func ParseKey(data []byte) (Key, error) {
	if len(data) > maxKeyJSON {
		return Key{}, keyErr("stored key is %d bytes, more than %d", len(data), maxKeyJSON)
	}
	var j JWK
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		// encoding/json errors can quote the input; say only where it broke.
		return Key{}, keyErr("stored key is not a JWK object (at byte %d)", dec.InputOffset())
	}
	if dec.More() {
		return Key{}, keyErr("stored key has data after the JWK object")
	}
	if j.D == "" {
		return Key{}, keyErr("stored key has no private member \"d\"")
	}
	if j.Alg == "" {
		return Key{}, keyErr("stored key has no \"alg\"")
	}
	pub, err := j.PublicKey()
	if err != nil {
		return Key{}, err
	}
	signer, err := privateKey(j, pub)
	if err != nil {
		return Key{}, err
	}
	return newKey(j.Alg, signer)
}

// privateKey decodes the private members of j and checks them against pub.
func privateKey(j JWK, pub crypto.PublicKey) (crypto.Signer, error) {
	mismatch := keyErr("stored key's private and public members do not belong together")
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		d, err := fixedB64("d", j.D, (p.Curve.Params().BitSize+7)/8)
		if err != nil {
			return nil, err
		}
		priv, err := ecdsa.ParseRawPrivateKey(p.Curve, d)
		if err != nil {
			return nil, keyErr("member \"d\" is not a valid %s scalar", p.Curve.Params().Name)
		}
		if !priv.PublicKey.Equal(p) {
			return nil, mismatch
		}
		return priv, nil
	case ed25519.PublicKey:
		seed, err := fixedB64("d", j.D, ed25519.SeedSize)
		if err != nil {
			return nil, err
		}
		priv := ed25519.NewKeyFromSeed(seed)
		if !priv.Public().(ed25519.PublicKey).Equal(p) {
			return nil, mismatch
		}
		return priv, nil
	case *rsa.PublicKey:
		return rsaPrivate(j, p)
	}
	return nil, keyErr("unsupported key type %T", pub)
}

func rsaPrivate(j JWK, pub *rsa.PublicKey) (*rsa.PrivateKey, error) {
	d, err := bigB64("d", j.D)
	if err != nil {
		return nil, err
	}
	p, err := bigB64("p", j.P)
	if err != nil {
		return nil, err
	}
	q, err := bigB64("q", j.Q)
	if err != nil {
		return nil, err
	}
	priv := &rsa.PrivateKey{PublicKey: *pub, D: d, Primes: []*big.Int{p, q}}
	if err := priv.Validate(); err != nil {
		return nil, keyErr("stored RSA key is inconsistent")
	}
	priv.Precompute()
	return priv, nil
}
