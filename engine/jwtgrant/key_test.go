package jwtgrant

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// verify parses tok as a verifier would: only alg accepted, signature
// checked with pub, time checks at now.
func verify(t *testing.T, tok, alg string, pub any) (jwt.MapClaims, map[string]any) {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{alg}), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("verifying the %s assertion: %v", alg, err)
	}
	return claims, parsed.Header
}

// TestParsePrivateKeySignsVerifiably covers every key encoding and every
// algorithm: the key is parsed, an assertion signed, and the assertion
// verified independently with the public key and only the expected alg.
func TestParsePrivateKeySignsVerifiably(t *testing.T) {
	testKeys(t)
	cases := []struct {
		name, alg, wantAlg string
		pem                []byte
		pub                any
	}{
		{"PKCS#1 RSA default", "", "RS256", pkcs1PEM(rsaKey), &rsaKey.PublicKey},
		{"PKCS#8 RSA RS256", "RS256", "RS256", pkcs8PEM(t, rsaKey), &rsaKey.PublicKey},
		{"PKCS#8 RSA RS384", "RS384", "RS384", pkcs8PEM(t, rsaKey), &rsaKey.PublicKey},
		{"PKCS#1 RSA RS512", "RS512", "RS512", pkcs1PEM(rsaKey), &rsaKey.PublicKey},
		{"PKCS#8 RSA PS256", "PS256", "PS256", pkcs8PEM(t, rsaKey), &rsaKey.PublicKey},
		{"PKCS#8 RSA PS512", "PS512", "PS512", pkcs8PEM(t, rsaKey), &rsaKey.PublicKey},
		{"SEC1 P-256 default", "", "ES256", sec1PEM(t, p256Key), &p256Key.PublicKey},
		{"PKCS#8 P-256 ES256", "ES256", "ES256", pkcs8PEM(t, p256Key), &p256Key.PublicKey},
		{"SEC1 P-384 ES384", "ES384", "ES384", sec1PEM(t, p384Key), &p384Key.PublicKey},
		{"PKCS#8 P-521 default", "", "ES512", pkcs8PEM(t, p521Key), &p521Key.PublicKey},
		{"PKCS#8 Ed25519 default", "", "EdDSA", pkcs8PEM(t, edKey), edKey.Public()},
		{"PKCS#8 Ed25519 EdDSA", "EdDSA", "EdDSA", pkcs8PEM(t, edKey), edKey.Public()},
		{"EC PARAMETERS block first (openssl ecparam -genkey)", "", "ES256",
			append([]byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"), sec1PEM(t, p256Key)...), &p256Key.PublicKey},
		{"key pasted with literal \\n", "", "RS256", []byte(strings.ReplaceAll(string(pkcs8PEM(t, rsaKey)), "\n", `\n`)), &rsaKey.PublicKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParsePrivateKey(tc.pem, tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm() != tc.wantAlg {
				t.Fatalf("Algorithm() = %s, want %s", k.Algorithm(), tc.wantAlg)
			}
			k.KeyID = "kid-1"
			tok, err := k.Sign(Claims{Issuer: "client-1", Subject: "user@example.com", Audience: []string{"https://as.example/token"}, Scope: "read write"}, now)
			if err != nil {
				t.Fatal(err)
			}
			claims, header := verify(t, tok, tc.wantAlg, tc.pub)
			if header["kid"] != "kid-1" || header["typ"] != "JWT" {
				t.Errorf("header = %v, want kid kid-1 and typ JWT", header)
			}
			want := map[string]any{"iss": "client-1", "sub": "user@example.com", "aud": "https://as.example/token", "scope": "read write",
				"iat": float64(now.Unix()), "exp": float64(now.Add(DefaultLifetime).Unix())}
			for k, v := range want {
				if claims[k] != v {
					t.Errorf("claim %s = %v, want %v", k, claims[k], v)
				}
			}
			if jti, _ := claims["jti"].(string); len(jti) < 20 {
				t.Errorf("jti = %v, want a random id", claims["jti"])
			}
		})
	}
}

// TestParsePrivateKeyRefuses: every input that cannot give the asked-for
// signature is refused with an error naming the reason, and no error
// carries key material.
func TestParsePrivateKeyRefuses(t *testing.T) {
	testKeys(t)
	rsaPEM := pkcs8PEM(t, rsaKey)
	cert := selfSignedPEM(t)
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte("canary-encrypted-bytes")})
	corrupt := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("canary-not-der-at-all")})
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	cases := []struct {
		name, alg string
		pem       []byte
		want      string
	}{
		{"empty", "", nil, "not a PEM private key"},
		{"not PEM", "", []byte("canary-just-text"), "not a PEM private key"},
		{"public key", "", publicPEM(t, &rsaKey.PublicKey), "holds a public key"},
		{"certificate only", "", cert, "only a certificate"},
		{"encrypted PKCS#1", "", encrypted, "encrypted"},
		{"encrypted PKCS#8", "", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("canary")}), "encrypted"},
		{"corrupt block", "", corrupt, "not a valid private key"},
		{"two keys", "", append(append([]byte{}, rsaPEM...), pkcs8PEM(t, p256Key)...), "more than one private key"},
		{"RSA 1024", "", pkcs1PEM(rsa1024), "1024 bits, at least 2048"},
		{"RS256 with EC key", "RS256", sec1PEM(t, p256Key), "RS256 cannot sign with this EC P-256 key"},
		{"ES256 with P-384 key", "ES256", sec1PEM(t, p384Key), "ES256 cannot sign with this EC P-384 key"},
		{"ES384 with P-256 key", "ES384", pkcs8PEM(t, p256Key), "ES384 cannot sign with this EC P-256 key"},
		{"EdDSA with RSA key", "EdDSA", rsaPEM, "EdDSA cannot sign with this RSA key"},
		{"PS256 with Ed25519 key", "PS256", pkcs8PEM(t, edKey), "PS256 cannot sign with this Ed25519 key"},
		{"HMAC alg on a private key", "HS256", rsaPEM, `unsupported signing algorithm "HS256"`},
		{"alg none", "none", rsaPEM, `unsupported signing algorithm "none"`},
		{"lower-case alg", "rs256", rsaPEM, `unsupported signing algorithm "rs256"`},
		{"P-224 curve", "", sec1PEM(t, p224), "P-256, P-384 or P-521"},
		{"over 64 KiB", "", append(bytes.Repeat([]byte("canary "), 10<<10), rsaPEM...), "larger than 65536 bytes"},
	}
	secretParts := []string{"canary", base64.StdEncoding.EncodeToString(rsaKey.D.Bytes())[:24], rsaKey.D.String()[:24]}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParsePrivateKey(tc.pem, tc.alg)
			if err == nil {
				t.Fatalf("ParsePrivateKey = %v, want an error", k)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			for _, s := range secretParts {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains key material", err)
				}
			}
		})
	}
}

func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, NotBefore: now, NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p256Key.PublicKey, p256Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestSignRefusesBadClaims: claims a server would reject or misread are
// refused before anything is signed.
func TestSignRefusesBadClaims(t *testing.T) {
	testKeys(t)
	k, err := ParsePrivateKey(pkcs8PEM(t, p256Key), "")
	if err != nil {
		t.Fatal(err)
	}
	ok := Claims{Issuer: "i", Audience: []string{"https://as.example/token"}}
	cases := []struct {
		name string
		edit func(*Claims)
		want string
	}{
		{"no issuer", func(c *Claims) { c.Issuer = "" }, "needs an issuer"},
		{"blank issuer", func(c *Claims) { c.Issuer = "  " }, "needs an issuer"},
		{"no audience", func(c *Claims) { c.Audience = nil }, "needs an audience"},
		{"empty audience value", func(c *Claims) { c.Audience = []string{"https://a", ""} }, "empty value"},
		{"lifetime over an hour", func(c *Claims) { c.Lifetime = 2 * time.Hour }, "longer than"},
		{"negative lifetime", func(c *Claims) { c.Lifetime = -time.Minute }, "too short"},
		{"sub-second lifetime", func(c *Claims) { c.Lifetime = time.Millisecond }, "too short"},
		{"negative skew", func(c *Claims) { c.ClockSkew = -time.Second }, "clock skew"},
		{"extra exp", func(c *Claims) { c.Extra = map[string]any{"exp": 9999999999} }, `"exp" is set by the assertion`},
		{"extra aud", func(c *Claims) { c.Extra = map[string]any{"aud": "https://evil"} }, `"aud" is set by the assertion`},
		{"extra jti", func(c *Claims) { c.Extra = map[string]any{"jti": "fixed"} }, `"jti" is set by the assertion`},
		{"extra not JSON", func(c *Claims) { c.Extra = map[string]any{"f": func() {}} }, "signing the ES256 assertion failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			tok, err := k.Sign(c, now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Sign = %q, %v; want an error saying %q", tok, err, tc.want)
			}
		})
	}
	var nilKey *Key
	if _, err := nilKey.Sign(ok, now); err == nil {
		t.Error("a nil key signed")
	}
}

// TestSignClaimShapes: audience arrays, skew, lifetime, extra claims, and
// a fresh jti for every assertion.
func TestSignClaimShapes(t *testing.T) {
	testKeys(t)
	k, _ := ParsePrivateKey(pkcs8PEM(t, edKey), "")
	tok, err := k.Sign(Claims{Issuer: "i", Audience: []string{"https://a", "https://b"}, Lifetime: 3 * time.Minute, ClockSkew: 30 * time.Second,
		Extra: map[string]any{"https://example.com/tenant": "t1", "nested": map[string]any{"n": 1}}}, now)
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := verify(t, tok, "EdDSA", edKey.Public())
	if aud, _ := claims.GetAudience(); len(aud) != 2 || aud[0] != "https://a" || aud[1] != "https://b" {
		t.Errorf("aud = %v", claims["aud"])
	}
	if claims["iat"] != float64(now.Add(-30*time.Second).Unix()) || claims["exp"] != float64(now.Add(3*time.Minute).Unix()) {
		t.Errorf("iat, exp = %v, %v", claims["iat"], claims["exp"])
	}
	if _, has := claims["sub"]; has {
		t.Error("empty Subject was sent as sub")
	}
	if _, has := claims["scope"]; has {
		t.Error("empty Scope was sent")
	}
	if claims["https://example.com/tenant"] != "t1" {
		t.Errorf("extra claim = %v", claims["https://example.com/tenant"])
	}
	seen := map[any]bool{}
	for range 50 {
		tok, _ := k.Sign(Claims{Issuer: "i", Audience: []string{"a"}}, now)
		c, _ := verify(t, tok, "EdDSA", edKey.Public())
		if seen[c["jti"]] {
			t.Fatalf("jti %v repeated", c["jti"])
		}
		seen[c["jti"]] = true
	}
}

// TestKeyFormattingHidesMaterial: printing a Key any way fmt allows, alone
// or inside another value, shows no key material.
func TestKeyFormattingHidesMaterial(t *testing.T) {
	testKeys(t)
	k, _ := ParsePrivateKey(pkcs1PEM(rsaKey), "")
	k.KeyID = "kid-7"
	hk, err := NewHMACKey([]byte("canary-hmac-secret-0123456789abcdef"), "")
	if err != nil {
		t.Fatal(err)
	}
	holder := struct {
		K   Key
		P   *Key
		H   Key
		Any any
	}{*k, k, *hk, hk}
	d := rsaKey.D.String()[:20]
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{k, *k, hk, holder} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, d) || strings.Contains(out, "canary") || strings.Contains(out, "63616e617279") {
				t.Errorf("%s of %T shows key material: %s", verb, v, out)
			}
		}
	}
	if got := fmt.Sprint(k); got != `jwtgrant.Key(RS256, kid "kid-7")` {
		t.Errorf("String() = %s", got)
	}
}

// TestNewHMACKey: client_secret_jwt keys of the three sizes, short secrets
// refused with lengths only.
func TestNewHMACKey(t *testing.T) {
	secret := []byte("canary-0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
	for alg, n := range map[string]int{"HS256": 32, "HS384": 48, "HS512": 64} {
		k, err := NewHMACKey(secret[:n], alg)
		if err != nil {
			t.Fatalf("%s with %d bytes: %v", alg, n, err)
		}
		tok, err := k.Sign(Claims{Issuer: "c", Subject: "c", Audience: []string{"https://as/token"}}, now)
		if err != nil {
			t.Fatal(err)
		}
		verify(t, tok, alg, secret[:n])
		if _, err := NewHMACKey(secret[:n-1], alg); err == nil || strings.Contains(err.Error(), "canary") || !strings.Contains(err.Error(), fmt.Sprintf("at least %d bytes", n)) {
			t.Errorf("%s with %d bytes: err = %v, want a refusal naming the length", alg, n-1, err)
		}
	}
	if _, err := NewHMACKey(secret, "RS256"); err == nil {
		t.Error("NewHMACKey accepted RS256")
	}
	if k, _ := NewHMACKey(secret, ""); k.Algorithm() != "HS256" || k.Public() != nil {
		t.Errorf("default HMAC key = %v", k)
	}
}

// TestRFC7515Vectors checks the signer against the published JWS examples:
// A.2 (RS256, deterministic: our signature must equal the RFC's byte for
// byte, from a key built from the RFC's primes and parsed as PEM) and A.3
// (ES256, randomised: the RFC's signature must verify with the public key
// of the RFC's private key as we parse it, and ours with the RFC's public
// key).
func TestRFC7515Vectors(t *testing.T) {
	const payload = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
	b64 := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bigInt := func(s string) *big.Int { return new(big.Int).SetBytes(b64(s)) }

	t.Run("A.2 RS256", func(t *testing.T) {
		const n = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
		const p = "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc"
		const q = "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc"
		const sig = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
		P, Q := bigInt(p), bigInt(q)
		if new(big.Int).Mul(P, Q).Cmp(bigInt(n)) != 0 {
			t.Fatal("p*q is not the RFC's modulus")
		}
		pem := rsaPEMFromPrimes(t, P, Q)
		k, err := ParsePrivateKey(pem, "RS256")
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.signingInput("eyJhbGciOiJSUzI1NiJ9." + payload)
		if err != nil {
			t.Fatal(err)
		}
		if base64.RawURLEncoding.EncodeToString(got) != sig {
			t.Errorf("RS256 signature differs from RFC 7515 A.2:\n got %s\nwant %s", base64.RawURLEncoding.EncodeToString(got), sig)
		}
	})

	t.Run("A.3 ES256", func(t *testing.T) {
		const x, y, d = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
		const sig = "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
		priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), b64(d))
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParsePrivateKey(pkcs8PEM(t, priv), "")
		if err != nil {
			t.Fatal(err)
		}
		rfcPub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: bigInt(x), Y: bigInt(y)}
		if !rfcPub.Equal(k.Public()) {
			t.Fatal("the parsed key's public half is not the RFC's (x, y)")
		}
		input := "eyJhbGciOiJFUzI1NiJ9." + payload
		if err := jwt.SigningMethodES256.Verify(input, b64(sig), k.Public()); err != nil {
			t.Errorf("RFC 7515 A.3 signature does not verify with the parsed key: %v", err)
		}
		ours, err := k.signingInput(input)
		if err != nil {
			t.Fatal(err)
		}
		if len(ours) != 64 {
			t.Errorf("ES256 signature is %d bytes, want 64 (R||S, not DER)", len(ours))
		}
		if err := jwt.SigningMethodES256.Verify(input, ours, rfcPub); err != nil {
			t.Errorf("our ES256 signature does not verify with the RFC's public key: %v", err)
		}
		// A tampered vector must fail: the check above is not vacuous.
		bad := b64(sig)
		bad[len(bad)-1] ^= 1
		if jwt.SigningMethodES256.Verify(input, bad, rfcPub) == nil {
			t.Error("a tampered signature verified")
		}
	})
}

// rsaPEMFromPrimes builds the PKCS#1 PEM of the RSA key with primes p, q
// and e = 65537.
func rsaPEMFromPrimes(t *testing.T, p, q *big.Int) []byte {
	t.Helper()
	e := big.NewInt(65537)
	one := big.NewInt(1)
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	d := new(big.Int).ModInverse(e, phi)
	key, err := rsaFromParts(p, q, d)
	if err != nil {
		t.Fatal(err)
	}
	return pkcs1PEM(key)
}

func rsaFromParts(p, q, d *big.Int) (*rsa.PrivateKey, error) {
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 65537}, D: d, Primes: []*big.Int{p, q}}
	k.Precompute()
	return k, k.Validate()
}
