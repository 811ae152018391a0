package dpop

import (
	"errors"
	"testing"
	"time"
)

// Published vectors: RFC 7638 section 3.1 (the RSA key of RFC 7517
// appendix A.1) and RFC 9449 section 4.1 (Figure 3, a token request proof)
// and section 7.1 (Figure 13, a resource request proof with ath).
const (
	rfc7638N          = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rfc7638Thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

	rfc9449Header        = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19"
	rfc9449TokenProof    = rfc9449Header + ".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
	rfc9449ResourceProof = rfc9449Header + ".eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
	rfc9449AccessToken   = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	rfc9449ATH           = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
	rfc9449JKT           = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
)

func TestThumbprintRFC7638(t *testing.T) {
	j := JWK{Kty: "RSA", N: rfc7638N, E: "AQAB", Alg: "RS256"}
	got, err := j.Thumbprint()
	if err != nil || got != rfc7638Thumbprint {
		t.Fatalf("Thumbprint = %q, %v; want %q", got, err, rfc7638Thumbprint)
	}
	ec := JWK{Kty: "EC", Crv: "P-256", X: "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs", Y: "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}
	if got, err := ec.Thumbprint(); err != nil || got != rfc9449JKT {
		t.Fatalf("RFC 9449 key thumbprint = %q, %v; want %q", got, err, rfc9449JKT)
	}
}

func TestAccessTokenHashRFC9449(t *testing.T) {
	if got := AccessTokenHash(rfc9449AccessToken); got != rfc9449ATH {
		t.Fatalf("AccessTokenHash = %q, want %q", got, rfc9449ATH)
	}
}

func TestVerifyRFC9449Examples(t *testing.T) {
	at := func(sec int64) func() time.Time { return func() time.Time { return time.Unix(sec, 0) } }
	v := &Verifier{Now: at(1562262616)}
	got, err := v.Verify(rfc9449TokenProof, Check{Method: "POST", URL: "https://server.example.com/token"})
	if err != nil {
		t.Fatalf("RFC 9449 Figure 3 proof rejected: %v", err)
	}
	if got.JKT != rfc9449JKT || got.JTI != "-BwC3ESc6acc2lTc" || got.Algorithm != "ES256" {
		t.Fatalf("verified = %+v", got)
	}

	v = &Verifier{Now: at(1562262618)}
	c := Check{Method: "GET", URL: "https://resource.example.org/protectedresource", AccessToken: rfc9449AccessToken, JKT: rfc9449JKT}
	if _, err := v.Verify(rfc9449ResourceProof, c); err != nil {
		t.Fatalf("RFC 9449 Figure 13 proof rejected: %v", err)
	}
	// The same published proof, checked against anything else it is not bound to.
	for name, c := range map[string]Check{
		"other token":  {Method: "GET", URL: c.URL, AccessToken: "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxV"},
		"other method": {Method: "POST", URL: c.URL, AccessToken: rfc9449AccessToken},
		"other path":   {Method: "GET", URL: "https://resource.example.org/other", AccessToken: rfc9449AccessToken},
		"other host":   {Method: "GET", URL: "https://evil.example.org/protectedresource", AccessToken: rfc9449AccessToken},
		"other key":    {Method: "GET", URL: c.URL, AccessToken: rfc9449AccessToken, JKT: rfc7638Thumbprint},
		"needs nonce":  {Method: "GET", URL: c.URL, AccessToken: rfc9449AccessToken, Nonce: "eyJ7S_zG.eyJH0-Z.HX4w-7v"},
	} {
		v := &Verifier{Now: at(1562262618)}
		if _, err := v.Verify(rfc9449ResourceProof, c); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("%s: err = %v, want ErrInvalidProof", name, err)
		}
	}
}
