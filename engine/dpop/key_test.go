package dpop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// testKeys are generated once: RSA generation is slow under -race.
var testKeys = map[string]Key{}

func testKey(t testing.TB, alg string) Key {
	t.Helper()
	if k, ok := testKeys[alg]; ok {
		return k
	}
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatalf("GenerateKey(%q): %v", alg, err)
	}
	testKeys[alg] = k
	return k
}

func TestKeyStoreRoundTrip(t *testing.T) {
	for _, alg := range []string{ES256, EdDSA, RS256} {
		t.Run(alg, func(t *testing.T) {
			k := testKey(t, alg)
			if k.Algorithm() != alg || k.PublicJWK().hasPrivate() {
				t.Fatalf("key %v: algorithm %q, public JWK %+v", k, k.Algorithm(), k.PublicJWK())
			}
			stored, err := k.PrivateJWK()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseKey(stored)
			if err != nil {
				t.Fatalf("ParseKey(PrivateJWK()): %v", err)
			}
			if back.Thumbprint() != k.Thumbprint() || back.Algorithm() != alg {
				t.Fatalf("round trip changed the key: %v -> %v", k, back)
			}
			// A proof by the reloaded key verifies as the original key's.
			proof, err := back.Proof("GET", "https://api.example.com/x", ProofOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := (&Verifier{}).Verify(proof, Check{Method: "GET", URL: "https://api.example.com/x", JKT: k.Thumbprint()})
			if err != nil || got.Algorithm != alg {
				t.Fatalf("proof of reloaded key: %+v, %v", got, err)
			}
		})
	}
	if _, err := GenerateKey("HS256"); !errors.Is(err, ErrKey) {
		t.Fatalf("GenerateKey(HS256) = %v, want ErrKey", err)
	}
	if _, err := (Key{}).Proof("GET", "https://a.example/", ProofOptions{}); !errors.Is(err, ErrKey) {
		t.Fatalf("zero Key signed a proof: %v", err)
	}
}

// Printing a key in any way a program might shows no private material.
func TestKeyNeverShowsPrivateHalf(t *testing.T) {
	for _, alg := range []string{ES256, EdDSA, RS256} {
		k := testKey(t, alg)
		stored, _ := k.PrivateJWK()
		var priv JWK
		if err := json.Unmarshal(stored, &priv); err != nil {
			t.Fatal(err)
		}
		secrets := []string{priv.D, priv.P, priv.Q, priv.DP, priv.DQ, priv.QI}
		holder := struct {
			Name string
			key  Key
			Ptr  *Key
		}{"conn", k, &k}
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("key", "dpop", k, "ptr", &k)
		outputs := map[string]string{
			"%v": fmt.Sprintf("%v", k), "%+v": fmt.Sprintf("%+v", k), "%#v": fmt.Sprintf("%#v", k),
			"%x": fmt.Sprintf("%x", k), "%s ptr": fmt.Sprintf("%s", &k), "struct %+v": fmt.Sprintf("%+v", holder),
			"struct %#v": fmt.Sprintf("%#v", holder), "slog": logged.String(),
		}
		if _, err := json.Marshal(holder); err != nil {
			outputs["json error"] = err.Error()
		}
		if b, err := json.Marshal(struct{ K Key }{k}); err == nil {
			t.Errorf("%s: json.Marshal of a Key succeeded: %s", alg, b)
		} else {
			outputs["json"] = err.Error()
		}
		for name, out := range outputs {
			for _, s := range secrets {
				if s != "" && strings.Contains(out, s) {
					t.Errorf("%s %s shows private key material: %s", alg, name, out)
				}
			}
		}
		if !strings.Contains(fmt.Sprintf("%v", k), k.Thumbprint()) {
			t.Errorf("String() = %q, want the thumbprint", k)
		}
	}
}

func TestParseKeyRefusesBadStoreForms(t *testing.T) {
	ec := storeJWK(t, testKey(t, ES256))
	ed := storeJWK(t, testKey(t, EdDSA))
	rsa := storeJWK(t, testKey(t, RS256))
	other := storeJWK(t, mustKey(t, ES256))
	canary := ec.D
	mutate := func(j JWK, f func(*JWK)) []byte {
		f(&j)
		b, _ := json.Marshal(j)
		return b
	}
	cases := map[string][]byte{
		"not json":          []byte(`{"kty":"EC","d":"` + canary),
		"not an object":     []byte(`["` + canary + `"]`),
		"trailing data":     append(mustJSON(t, ec), []byte(`{"d":"`+canary+`"}`)...),
		"unknown member":    []byte(`{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"` + canary + `","alg":"ES256","k":"x"}`),
		"no d":              mutate(ec, func(j *JWK) { j.D = "" }),
		"no alg":            mutate(ec, func(j *JWK) { j.Alg = "" }),
		"alg none":          mutate(ec, func(j *JWK) { j.Alg = "none" }),
		"alg HS256":         mutate(ec, func(j *JWK) { j.Alg = "HS256" }),
		"alg of other kty":  mutate(ec, func(j *JWK) { j.Alg = "RS256" }),
		"ES384 on P-256":    mutate(ec, func(j *JWK) { j.Alg = "ES384" }),
		"d of another key":  mutate(ec, func(j *JWK) { j.D = other.D }),
		"point off curve":   mutate(ec, func(j *JWK) { j.Y = other.Y }),
		"short x":           mutate(ec, func(j *JWK) { j.X = j.X[:40] }),
		"padded d":          mutate(ec, func(j *JWK) { j.D += "=" }),
		"curve P-521":       mutate(ec, func(j *JWK) { j.Crv = "P-521" }),
		"Ed25519 wrong d":   mutate(ed, func(j *JWK) { j.D = other.D }),
		"Ed448":             mutate(ed, func(j *JWK) { j.Crv = "Ed448" }),
		"RSA wrong p":       mutate(rsa, func(j *JWK) { j.P = j.Q }),
		"RSA no q":          mutate(rsa, func(j *JWK) { j.Q = "" }),
		"RSA 1024 bits":     mutate(rsa, func(j *JWK) { j.N = j.N[:171] }),
		"RSA exponent even": mutate(rsa, func(j *JWK) { j.E = "AQAA" }),
		"oct key":           []byte(`{"kty":"oct","k":"` + canary + `","d":"x","alg":"HS256"}`),
		"oversized":         []byte(`{"kty":"EC","d":"` + canary + strings.Repeat("A", maxKeyJSON) + `"}`),
	}
	for name, data := range cases {
		_, err := ParseKey(data)
		if !errors.Is(err, ErrKey) {
			t.Errorf("%s: err = %v, want ErrKey", name, err)
			continue
		}
		for _, s := range []string{canary, other.D, rsa.D, rsa.P, rsa.Q} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: error shows key material: %v", name, err)
			}
		}
	}
}

func mustKey(t *testing.T, alg string) Key {
	t.Helper()
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func storeJWK(t *testing.T, k Key) JWK {
	t.Helper()
	b, err := k.PrivateJWK()
	if err != nil {
		t.Fatal(err)
	}
	var j JWK
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	return j
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
