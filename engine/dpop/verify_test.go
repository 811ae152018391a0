package dpop

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var testNow = time.Unix(1_800_000_000, 0)

// craft signs a proof with arbitrary header and claims: the hostile sender.
func craft(t *testing.T, k Key, alg string, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	m := jwt.GetSigningMethod(alg)
	tok := jwt.NewWithClaims(m, claims)
	tok.Header["typ"] = ProofType
	tok.Header["jwk"] = k.PublicJWK()
	for name, v := range header {
		if v == nil {
			delete(tok.Header, name)
		} else {
			tok.Header[name] = v
		}
	}
	var key any = k.k.signer
	if strings.HasPrefix(alg, "HS") {
		key = []byte("shared-secret")
	}
	if alg == "none" {
		key = jwt.UnsafeAllowNoneSignatureType
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("crafting %s proof: %v", alg, err)
	}
	return s
}

func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{"jti": "jti-1", "htm": "POST", "htu": "https://as.example.com/token", "iat": testNow.Unix()}
}

func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// Every way a proof can be wrong is refused, naming the fault, and the
// error never contains the proof or the access token.
func TestVerifyRefusesBadProofs(t *testing.T) {
	k := testKey(t, ES256)
	rk := testKey(t, RS256)
	ek := testKey(t, EdDSA)
	priv := storeJWK(t, k)
	check := Check{Method: "POST", URL: "https://as.example.com/token"}
	token := "canary-access-token"
	rs := Check{Method: "POST", URL: "https://as.example.com/token", AccessToken: token}
	cases := []struct {
		name, proof, want string
		check             Check
		nonce             bool
	}{
		{"typ JWT", craft(t, k, "ES256", map[string]any{"typ": "JWT"}, goodClaims()), "typ", check, false},
		{"no typ", craft(t, k, "ES256", map[string]any{"typ": nil}, goodClaims()), "typ", check, false},
		{"alg none", craft(t, k, "none", nil, goodClaims()), "alg", check, false},
		{"alg HS256", craft(t, k, "HS256", nil, goodClaims()), "alg", check, false},
		{"ES256 signature, RSA jwk", craft(t, k, "ES256", map[string]any{"jwk": rk.PublicJWK()}, goodClaims()), "does not fit", check, false},
		{"RS256 with EC jwk", craft(t, rk, "RS256", map[string]any{"jwk": k.PublicJWK()}, goodClaims()), "does not fit", check, false},
		{"signed by another key", craft(t, ek, "EdDSA", map[string]any{"jwk": JWK{Kty: "OKP", Crv: "Ed25519", X: mustKey(t, EdDSA).PublicJWK().X}}, goodClaims()), "signature", check, false},
		{"no jwk", craft(t, k, "ES256", map[string]any{"jwk": nil}, goodClaims()), "jwk", check, false},
		{"jwk as string", craft(t, k, "ES256", map[string]any{"jwk": "x"}, goodClaims()), "jwk", check, false},
		{"private jwk", craft(t, k, "ES256", map[string]any{"jwk": priv}, goodClaims()), "private key", check, false},
		{"crit header", craft(t, k, "ES256", map[string]any{"crit": []string{"exp"}}, goodClaims()), "crit", check, false},
		{"no jti", craft(t, k, "ES256", nil, with(goodClaims(), "jti", nil)), "jti", check, false},
		{"huge jti", craft(t, k, "ES256", nil, with(goodClaims(), "jti", strings.Repeat("j", 300))), "jti", check, false},
		{"no htm", craft(t, k, "ES256", nil, with(goodClaims(), "htm", nil)), "htm", check, false},
		{"no htu", craft(t, k, "ES256", nil, with(goodClaims(), "htu", nil)), "htu", check, false},
		{"no iat", craft(t, k, "ES256", nil, with(goodClaims(), "iat", nil)), "iat", check, false},
		{"iat string", craft(t, k, "ES256", nil, with(goodClaims(), "iat", "now")), "claims do not decode", check, false},
		{"htu number", craft(t, k, "ES256", nil, with(goodClaims(), "htu", 7)), "claims do not decode", check, false},
		{"htm GET", craft(t, k, "ES256", nil, with(goodClaims(), "htm", "GET")), "htm", check, false},
		{"htm lower case", craft(t, k, "ES256", nil, with(goodClaims(), "htm", "post")), "htm", check, false},
		{"htu other path", craft(t, k, "ES256", nil, with(goodClaims(), "htu", "https://as.example.com/token2")), "htu", check, false},
		{"htu other host", craft(t, k, "ES256", nil, with(goodClaims(), "htu", "https://evil.example.com/token")), "htu", check, false},
		{"htu http", craft(t, k, "ES256", nil, with(goodClaims(), "htu", "http://as.example.com/token")), "htu", check, false},
		{"htu other port", craft(t, k, "ES256", nil, with(goodClaims(), "htu", "https://as.example.com:8443/token")), "htu", check, false},
		{"htu not a URL", craft(t, k, "ES256", nil, with(goodClaims(), "htu", "token")), "htu", check, false},
		{"iat old", craft(t, k, "ES256", nil, with(goodClaims(), "iat", testNow.Add(-DefaultMaxAge-time.Second).Unix())), "too old", check, false},
		{"iat future", craft(t, k, "ES256", nil, with(goodClaims(), "iat", testNow.Add(DefaultLeeway+time.Second).Unix())), "future", check, false},
		{"nonce missing", craft(t, k, "ES256", nil, goodClaims()), "nonce", Check{Method: "POST", URL: check.URL, Nonce: "n-2"}, true},
		{"nonce outdated", craft(t, k, "ES256", nil, with(goodClaims(), "nonce", "n-1")), "nonce", Check{Method: "POST", URL: check.URL, Nonce: "n-2"}, true},
		{"ath missing", craft(t, k, "ES256", nil, goodClaims()), "ath", rs, false},
		{"ath of another token", craft(t, k, "ES256", nil, with(goodClaims(), "ath", AccessTokenHash("other"))), "ath", rs, false},
		{"ath is the token", craft(t, k, "ES256", nil, with(goodClaims(), "ath", token)), "ath", rs, false},
		{"token bound to another key", craft(t, k, "ES256", nil, goodClaims()), "bound", Check{Method: "POST", URL: check.URL, JKT: rk.Thumbprint()}, false},
		{"not a JWT", "canary-access-token", "well-formed", check, false},
		{"two parts", "a.b", "well-formed", check, false},
		{"oversized", strings.Repeat("a", maxProofLen+1), "bytes", check, false},
		{"tampered claims", tamper(t, craft(t, k, "ES256", nil, goodClaims())), "signature", check, false},
	}
	for _, c := range cases {
		v := &Verifier{Now: func() time.Time { return testNow }}
		_, err := v.Verify(c.proof, c.check)
		if !errors.Is(err, ErrInvalidProof) {
			t.Errorf("%s: err = %v, want ErrInvalidProof", c.name, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
		var pe *ProofError
		if errors.As(err, &pe); pe == nil || errors.Is(err, ErrUseNonce) != c.nonce || (pe.Code() == CodeUseNonce) != c.nonce {
			t.Errorf("%s: err = %v, nonce fault %v", c.name, err, c.nonce)
		}
		if strings.Contains(err.Error(), token) || len(c.proof) > 20 && strings.Contains(err.Error(), c.proof[:20]) {
			t.Errorf("%s: error shows the proof or token: %v", c.name, err)
		}
	}
}

// tamper changes the claims of a signed proof, keeping its signature.
func tamper(t *testing.T, proof string) string {
	parts := strings.Split(proof, ".")
	body, _ := json.Marshal(with(goodClaims(), "htm", "GET"))
	return parts[0] + "." + b64.EncodeToString(body) + "." + parts[2]
}

func TestVerifyAcceptsAndRefusesReplay(t *testing.T) {
	k := testKey(t, ES256)
	frac := craft(t, k, "ES256", nil, with(goodClaims(), "iat", float64(testNow.Unix())+0.25))
	if _, err := (&Verifier{Now: func() time.Time { return testNow }}).Verify(frac, Check{Method: "POST", URL: "https://as.example.com/token"}); err != nil {
		t.Fatalf("fractional iat (a valid NumericDate) rejected: %v", err)
	}
	for _, alg := range []string{ES256, EdDSA, RS256} {
		k := testKey(t, alg)
		v := &Verifier{Now: func() time.Time { return testNow }}
		proof, err := k.Proof("POST", "https://AS.example.com:443/token?x=1#f", ProofOptions{Now: testNow, Nonce: "n-1", AccessToken: "at"})
		if err != nil {
			t.Fatal(err)
		}
		c := Check{Method: "POST", URL: "https://as.example.com/token?other=2", Nonce: "n-1", AccessToken: "at", JKT: k.Thumbprint()}
		got, err := v.Verify(proof, c)
		if err != nil {
			t.Fatalf("%s: valid proof rejected: %v", alg, err)
		}
		if got.JKT != k.Thumbprint() || got.Nonce != "n-1" || !got.IssuedAt.Equal(testNow) {
			t.Fatalf("%s: verified = %+v", alg, got)
		}
		if _, err := v.Verify(proof, c); !errors.Is(err, ErrInvalidProof) || !strings.Contains(err.Error(), "replay") {
			t.Fatalf("%s: replayed proof: %v", alg, err)
		}
	}
}

// The jti memory is bounded and refuses rather than forgets live entries;
// entries whose window passed are dropped.
func TestVerifyReplayMemoryBound(t *testing.T) {
	k := testKey(t, ES256)
	now := testNow
	v := &Verifier{MaxSeen: 2, Now: func() time.Time { return now }}
	c := Check{Method: "GET", URL: "https://rs.example.com/"}
	for i := 0; i < 2; i++ {
		p, _ := k.Proof("GET", c.URL, ProofOptions{Now: now})
		if _, err := v.Verify(p, c); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := k.Proof("GET", c.URL, ProofOptions{Now: now})
	if _, err := v.Verify(p, c); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Fatalf("third proof with a full memory: %v", err)
	}
	now = now.Add(DefaultMaxAge + DefaultLeeway + time.Second)
	p, _ = k.Proof("GET", c.URL, ProofOptions{Now: now})
	if _, err := v.Verify(p, c); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestHTU(t *testing.T) {
	good := map[string]string{
		"https://EXAMPLE.com:443/a/b?q=1#frag": "https://example.com/a/b",
		"HTTP://example.com:80":                "http://example.com/",
		"https://example.com:8443/x":           "https://example.com:8443/x",
		"https://user:pw@example.com/p":        "https://example.com/p",
		"https://[::1]:9000/p%20q":             "https://[::1]:9000/p%20q",
		"http://127.0.0.1:80/":                 "http://127.0.0.1/",
	}
	for in, want := range good {
		if got, err := HTU(in); err != nil || got != want {
			t.Errorf("HTU(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/relative", "ftp://example.com/", "mailto:a@example.com", "https:opaque", "http://%zz"} {
		if got, err := HTU(bad); !errors.Is(err, ErrURL) {
			t.Errorf("HTU(%q) = %q, %v; want ErrURL", bad, got, err)
		}
	}
}
