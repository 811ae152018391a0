package dpop

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults and bounds of a [Verifier].
const (
	// DefaultMaxAge is how old a proof's iat may be.
	DefaultMaxAge = 5 * time.Minute
	// DefaultLeeway is how far in the future a proof's iat may be (clock skew).
	DefaultLeeway = 30 * time.Second
	// DefaultMaxSeen bounds the jti replay memory; a full memory refuses
	// proofs instead of forgetting unexpired ones.
	DefaultMaxSeen = 100_000
	maxProofLen    = 8 << 10
	maxJTILen      = 256
)

// Error codes a server answers with (RFC 9449 section 12.2).
const (
	CodeInvalidProof = "invalid_dpop_proof"
	CodeUseNonce     = "use_dpop_nonce"
)

// ErrInvalidProof matches, with errors.Is, every [*ProofError].
var ErrInvalidProof = errors.New("dpop: invalid DPoP proof")

// ErrUseNonce matches a [*ProofError] whose only fault is a missing or
// outdated nonce: the server answers "use_dpop_nonce" with a fresh one.
var ErrUseNonce = errors.New("dpop: the proof does not carry the server's current nonce")

// ProofError is a rejected proof. Reason never contains the proof, the
// access token or key material.
type ProofError struct {
	Reason string
	nonce  bool
}

// Error describes the fault.
func (e *ProofError) Error() string { return "dpop: invalid DPoP proof: " + e.Reason }

// Is matches [ErrInvalidProof], and [ErrUseNonce] for nonce faults.
func (e *ProofError) Is(target error) bool {
	return target == ErrInvalidProof || target == ErrUseNonce && e.nonce
}

// Code is the RFC 9449 error code a server answers with.
func (e *ProofError) Code() string {
	if e.nonce {
		return CodeUseNonce
	}
	return CodeInvalidProof
}

func invalid(format string, args ...any) error {
	return &ProofError{Reason: fmt.Sprintf(format, args...)}
}

// Check is what a proof must match.
type Check struct {
	// Method and URL of the request the proof came with. VerifyRequest
	// fills them from the request when empty.
	Method string
	URL    string
	// AccessToken, when set, must be bound by the proof's "ath".
	AccessToken string
	// Nonce, when set, must equal the proof's "nonce".
	Nonce string
	// JKT, when set, is the thumbprint the access token is bound to
	// ("cnf.jkt"); the proof's key must have it.
	JKT string
}

// Verified is an accepted proof.
type Verified struct {
	// JKT is the thumbprint of the proof's key, to bind tokens to.
	JKT       string
	Key       crypto.PublicKey
	JTI       string
	IssuedAt  time.Time
	Nonce     string
	Algorithm string
}

// Verifier checks DPoP proofs as RFC 9449 section 4.3 asks, remembering
// the jti of accepted proofs to refuse replays. The zero value uses the
// defaults above; a Verifier is safe for concurrent use.
type Verifier struct {
	// Algorithms allowed; nil means ES256, ES384, EdDSA, RS256/384/512 and
	// PS256/384/512. "none" and symmetric algorithms are never allowed.
	Algorithms []string
	MaxAge     time.Duration
	Leeway     time.Duration
	MaxSeen    int
	Now        func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time // jkt+jti -> when it may be forgotten
}

var defaultAlgorithms = []string{"ES256", "ES384", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// VerifyRequest checks the single DPoP header of a request a server
// received. The request URL is rebuilt from r.TLS, r.Host and r.URL.
func (v *Verifier) VerifyRequest(r *http.Request, c Check) (*Verified, error) {
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return nil, invalid("want exactly one DPoP header, got %d", len(proofs))
	}
	if c.Method == "" {
		c.Method = r.Method
	}
	if c.URL == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		c.URL = (&url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath}).String()
	}
	return v.Verify(proofs[0], c)
}

// Verify checks a proof against c: a well-formed JWT of typ dpop+jwt, an
// allowed asymmetric alg fitting the embedded public jwk, a valid
// signature, htm and htu matching the request, iat within the window, an
// unseen jti, and the nonce, ath and key binding c asks for.
func (v *Verifier) Verify(proof string, c Check) (*Verified, error) {
	if len(proof) > maxProofLen {
		return nil, invalid("proof is %d bytes, more than %d", len(proof), maxProofLen)
	}
	wantHTU, err := HTU(c.URL)
	if err != nil {
		return nil, fmt.Errorf("dpop: checking a proof: %w", err)
	}
	var claims proofClaims
	var pub crypto.PublicKey
	var jwk JWK
	algs := v.Algorithms
	if algs == nil {
		algs = defaultAlgorithms
	}
	// The alg is checked in the key function, not by jwt.WithValidMethods,
	// so that its refusal names the alg instead of a bad signature.
	parser := jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding())
	tok, err := parser.ParseWithClaims(proof, &claims, func(t *jwt.Token) (any, error) {
		if alg := t.Method.Alg(); !slices.Contains(algs, alg) || alg == "none" || strings.HasPrefix(alg, "HS") {
			return nil, invalid("alg %q is not an allowed asymmetric algorithm", clip(alg))
		}
		jwk, pub, err = proofKey(t)
		return pub, err
	})
	if err != nil {
		var pe *ProofError
		if errors.As(err, &pe) {
			return nil, pe
		}
		return nil, invalid("%s", jwtReason(err))
	}
	if err := v.checkClaims(claims, c, wantHTU); err != nil {
		return nil, err
	}
	jkt, err := jwk.Thumbprint()
	if err != nil {
		return nil, invalid("jwk: %v", err)
	}
	if c.JKT != "" && c.JKT != jkt {
		return nil, invalid("the proof's key is not the one the access token is bound to")
	}
	if err := v.remember(jkt+" "+claims.JTI, claims.IAT.Time); err != nil {
		return nil, err
	}
	return &Verified{JKT: jkt, Key: pub, JTI: claims.JTI, IssuedAt: claims.IAT.Time, Nonce: claims.Nonce, Algorithm: tok.Method.Alg()}, nil
}

// proofKey checks the proof's header and returns its embedded public key.
func proofKey(t *jwt.Token) (JWK, crypto.PublicKey, error) {
	typ, _ := t.Header["typ"].(string)
	if !strings.EqualFold(typ, ProofType) && !strings.EqualFold(typ, "application/"+ProofType) {
		return JWK{}, nil, invalid("typ is %q, want %q", clip(typ), ProofType)
	}
	if _, ok := t.Header["crit"]; ok {
		return JWK{}, nil, invalid("header has \"crit\" extensions this verifier does not understand")
	}
	raw, ok := t.Header["jwk"].(map[string]any)
	if !ok {
		return JWK{}, nil, invalid("header has no \"jwk\" object")
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return JWK{}, nil, invalid("jwk does not encode")
	}
	var jwk JWK
	if err := json.Unmarshal(data, &jwk); err != nil {
		return JWK{}, nil, invalid("jwk members are not strings")
	}
	if _, ok := raw["k"]; ok || jwk.hasPrivate() {
		return JWK{}, nil, invalid("jwk contains a private key")
	}
	pub, err := jwk.PublicKey()
	if err != nil {
		return JWK{}, nil, invalid("jwk: %v", err)
	}
	if err := algFitsKey(t.Method.Alg(), pub); err != nil {
		return JWK{}, nil, invalid("%v", err)
	}
	return jwk, pub, nil
}

// jwtReason turns a golang-jwt error into a short reason; those errors
// name the fault, never the token.
func jwtReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed) && strings.Contains(err.Error(), "claim"):
		return "claims do not decode (jti, htm, htu, nonce and ath are strings, iat a number)"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "not a well-formed JWS compact JWT"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "signature does not verify with the embedded jwk"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "alg is not an allowed asymmetric algorithm"
	}
	return err.Error()
}

func (v *Verifier) checkClaims(c proofClaims, want Check, wantHTU string) error {
	switch {
	case c.JTI == "":
		return invalid("claim \"jti\" is missing")
	case len(c.JTI) > maxJTILen:
		return invalid("claim \"jti\" is longer than %d bytes", maxJTILen)
	case c.HTM == "":
		return invalid("claim \"htm\" is missing")
	case c.HTU == "":
		return invalid("claim \"htu\" is missing")
	case c.IAT == nil:
		return invalid("claim \"iat\" is missing")
	}
	if c.HTM != want.Method {
		return invalid("htm %q does not match the request method %q", clip(c.HTM), clip(want.Method))
	}
	if got, err := HTU(c.HTU); err != nil || got != wantHTU {
		return invalid("htu does not match the request URL %s", wantHTU)
	}
	now := v.now()
	iat := c.IAT.Time
	if iat.Before(now.Add(-orDefault(v.MaxAge, DefaultMaxAge))) {
		return invalid("iat is too old")
	}
	if iat.After(now.Add(orDefault(v.Leeway, DefaultLeeway))) {
		return invalid("iat is in the future")
	}
	if want.Nonce != "" && c.Nonce != want.Nonce {
		return &ProofError{Reason: "nonce is missing or not the current one", nonce: true}
	}
	if want.AccessToken != "" {
		if c.ATH == "" {
			return invalid("claim \"ath\" is missing for a request with an access token")
		}
		if c.ATH != AccessTokenHash(want.AccessToken) {
			return invalid("ath does not match the access token")
		}
	}
	return nil
}

// remember records an accepted proof's jti until its iat leaves the window.
func (v *Verifier) remember(id string, iat time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	if v.seen == nil {
		v.seen = map[string]time.Time{}
	}
	if until, ok := v.seen[id]; ok && now.Before(until) {
		return invalid("jti was already used (replayed proof)")
	}
	maxSeen := v.MaxSeen
	if maxSeen <= 0 {
		maxSeen = DefaultMaxSeen
	}
	if len(v.seen) >= maxSeen {
		for k, until := range v.seen {
			if !now.Before(until) {
				delete(v.seen, k)
			}
		}
		if len(v.seen) >= maxSeen {
			return invalid("too many proofs within the window to check jti uniqueness (%d)", maxSeen)
		}
	}
	v.seen[id] = iat.Add(orDefault(v.MaxAge, DefaultMaxAge) + orDefault(v.Leeway, DefaultLeeway))
	return nil
}
