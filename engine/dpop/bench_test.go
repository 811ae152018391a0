package dpop

import (
	"testing"
	"time"
)

func BenchmarkProof(b *testing.B) {
	for _, alg := range []string{ES256, EdDSA, RS256} {
		b.Run(alg, func(b *testing.B) {
			k := testKey(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Proof("GET", "https://api.example.com/v1/items?page=2", ProofOptions{AccessToken: "at", Nonce: "n"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	k := testKey(b, ES256)
	now := time.Now()
	v := &Verifier{MaxSeen: 1 << 30, Now: func() time.Time { return now }}
	c := Check{Method: "GET", URL: "https://api.example.com/v1/items", AccessToken: "at"}
	proofs := make([]string, 0, 1024)
	for range cap(proofs) {
		p, _ := k.Proof("GET", c.URL, ProofOptions{AccessToken: "at", Now: now})
		proofs = append(proofs, p)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(proofs) {
			b.StopTimer()
			v = &Verifier{Now: v.Now}
			i = 0
			b.StartTimer()
		}
		if _, err := v.Verify(proofs[i], c); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
