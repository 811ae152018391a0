package jwtgrant

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzParsePrivateKey: any input and alg either gives a key whose
// signatures verify with its public key, or an error; never a panic, and
// an error never repeats the input's text.
func FuzzParsePrivateKey(f *testing.F) {
	testKeys(f)
	f.Add(string(pkcs1PEM(rsaKey)), "")
	f.Add(string(pkcs8PEM(f, p256Key)), "ES256")
	f.Add(string(sec1PEM(f, p384Key)), "ES384")
	f.Add(string(pkcs8PEM(f, edKey)), "EdDSA")
	f.Add(strings.ReplaceAll(string(pkcs8PEM(f, p521Key)), "\n", `\n`), "")
	f.Add("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n", "RS256")
	f.Add("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n", "")
	f.Fuzz(func(t *testing.T, text, alg string) {
		k, err := ParsePrivateKey([]byte(text), alg)
		if err != nil {
			if len(text) >= 12 && strings.Contains(err.Error(), text) {
				t.Fatalf("error repeats the input: %v", err)
			}
			return
		}
		tok, err := k.Sign(Claims{Issuer: "i", Audience: []string{"a"}}, now)
		if err != nil {
			t.Fatalf("parsed %v does not sign: %v", k, err)
		}
		if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return k.Public(), nil },
			jwt.WithValidMethods([]string{k.Algorithm()}), jwt.WithTimeFunc(func() time.Time { return now })); err != nil {
			t.Fatalf("%v signature does not verify: %v", k, err)
		}
	})
}

// FuzzParseServiceAccount: any file is a usable service account or an
// error, never a panic.
func FuzzParseServiceAccount(f *testing.F) {
	testKeys(f)
	f.Add(`{"type":"service_account","client_email":"a@b","private_key":` + jsonString(string(pkcs8PEM(f, rsaKey))) + `}`)
	f.Add(`{"type":"authorized_user"}`)
	f.Add(`{"type":"service_account","client_email":"a@b","private_key":"x","token_uri":"https://h/t"}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, data string) {
		sa, err := ParseServiceAccount([]byte(data))
		if err == nil && (sa.Key == nil || sa.ClientEmail == "" || !strings.HasPrefix(sa.TokenURI, "https://")) {
			t.Fatalf("incomplete service account %+v", sa)
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
