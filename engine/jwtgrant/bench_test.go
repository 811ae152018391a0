package jwtgrant

import "testing"

// BenchmarkSign measures one assertion per algorithm family: the cost a
// token request (or a client assertion) adds.
func BenchmarkSign(b *testing.B) {
	testKeys(b)
	for _, k := range []struct {
		name string
		pem  []byte
	}{{"RS256-2048", pkcs1PEM(rsaKey)}, {"ES256", pkcs8PEM(b, p256Key)}, {"EdDSA", pkcs8PEM(b, edKey)}} {
		key, err := ParsePrivateKey(k.pem, "")
		if err != nil {
			b.Fatal(err)
		}
		c := Claims{Issuer: "svc@example.com", Audience: []string{"https://oauth2.googleapis.com/token"}, Scope: "a b"}
		b.Run(k.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := key.Sign(c, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
