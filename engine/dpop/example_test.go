package dpop_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/connspec/connspec/engine/dpop"
)

// A connection keeps one key pair; its transport signs a proof for every
// request and binds the access token to it.
func Example() {
	key, err := dpop.GenerateKey(dpop.ES256)
	if err != nil {
		panic(err)
	}
	stored, _ := key.PrivateJWK() // kept sealed in the credential store
	key, _ = dpop.ParseKey(stored)

	var verifier dpop.Verifier
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := verifier.VerifyRequest(r, dpop.Check{AccessToken: "at-1", JKT: key.Thumbprint()})
		fmt.Fprint(w, err == nil)
	}))
	defer api.Close()

	client := &http.Client{Transport: &dpop.Transport{
		Key:         key,
		AccessToken: func(*http.Request) (string, error) { return "at-1", nil },
	}}
	resp, err := client.Get(api.URL + "/me?fields=name")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	ok, _ := io.ReadAll(resp.Body)
	fmt.Println("proof accepted:", string(ok))
	// Output: proof accepted: true
}
