package dpop

import (
	"testing"
	"time"
)

// Any proof string ends in an accepted proof or an ErrInvalidProof, never
// a panic.
func FuzzVerify(f *testing.F) {
	f.Add(rfc9449TokenProof)
	f.Add(rfc9449ResourceProof)
	f.Add(rfc9449Header + ".e30.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, proof string) {
		v := &Verifier{Now: func() time.Time { return time.Unix(1562262616, 0) }}
		if _, err := v.Verify(proof, Check{Method: "POST", URL: "https://server.example.com/token"}); err != nil && !isProofError(err) {
			t.Fatalf("error of another kind: %v", err)
		}
	})
}

// Any store form parses to a usable key or fails with ErrKey.
func FuzzParseKey(f *testing.F) {
	for _, alg := range []string{ES256, EdDSA} {
		k, _ := GenerateKey(alg)
		b, _ := k.PrivateJWK()
		f.Add(b)
	}
	f.Add([]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB","alg":"RS256"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKey(data)
		if err != nil {
			return
		}
		if _, err := k.Proof("GET", "https://a.example/", ProofOptions{}); err != nil {
			t.Fatalf("parsed key cannot sign: %v", err)
		}
	})
}

func isProofError(err error) bool {
	_, ok := err.(*ProofError)
	return ok
}
