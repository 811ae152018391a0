package oauth2

import (
	"regexp"
	"testing"
)

func TestS256ChallengeRFC7636AppendixB(t *testing.T) {
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const want = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if got := S256Challenge(verifier); got != want {
		t.Fatalf("S256Challenge = %q, want %q", got, want)
	}
}

// RFC 7636 section 4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
var unreserved = regexp.MustCompile(`^[A-Za-z0-9\-._~]{43,128}$`)

func TestNewVerifier(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		v, err := NewVerifier()
		if err != nil {
			t.Fatal(err)
		}
		if !unreserved.MatchString(v) {
			t.Fatalf("verifier %q is not 43-128 unreserved characters", v)
		}
		if seen[v] {
			t.Fatalf("verifier %q repeated", v)
		}
		seen[v] = true
		if c := S256Challenge(v); len(c) != 43 || !regexp.MustCompile(`^[A-Za-z0-9\-_]+$`).MatchString(c) {
			t.Fatalf("challenge %q is not 43 base64url characters without padding", c)
		}
	}
}

func TestNewState(t *testing.T) {
	a, err := NewState()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewState()
	if err != nil {
		t.Fatal(err)
	}
	if a == b || len(a) < 32 || !unreserved.MatchString(a) {
		t.Fatalf("states %q and %q: want distinct URL-safe values of 32+ characters", a, b)
	}
}
