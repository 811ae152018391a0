package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestJWTKeyNeverInCLIOutput: `connspec request` through the bundled
// salesforce jwt option, with the certificate's private key as a connector
// parameter, shows no line of the key when Salesforce refuses the
// assertion, even from a provider that echoes the whole request.
func TestJWTKeyNeverInCLIOutput(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	var tokenRequests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tokenRequests++
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_grant","error_description":%q}`, "user hasn't approved this consumer: "+string(body))
	}))
	defer srv.Close()
	res := canaryCLIRun("request", "salesforce", "GET", "/limits", "--option", "jwt",
		"--param", "clientId=3MVG9consumer", "--param", "privateKey="+pemKey,
		"--input", "username=integration@acme.com",
		"--connect-to", "login.salesforce.com="+srv.URL)
	if res.code != 1 || tokenRequests != 1 {
		t.Fatalf("exit %d after %d token requests, want 1 after 1:\n%s\n%s", res.code, tokenRequests, res.out, res.errOut)
	}
	if !strings.Contains(res.errOut, "invalid_grant") {
		t.Errorf("the refusal is not shown: %s", res.errOut)
	}
	for _, line := range strings.Split(strings.TrimSpace(pemKey), "\n")[1:4] {
		if strings.Contains(res.out+res.errOut, line) {
			t.Errorf("a line of the private key shows in the output:\n%s\n%s", res.out, res.errOut)
		}
	}
}
