package oauth1

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestSecretsNeverInErrors runs the flow against endpoints that echo the
// whole request back in every place an error is read from, and checks that
// no secret shows up in the resulting errors, in any encoding.
func TestSecretsNeverInErrors(t *testing.T) {
	const (
		consumerSecret = "canary-consumer-secret:+/ x"
		tempSecret     = "canary-temp-secret&=%"
		verifier       = "canary-verifier-4711"
	)
	forms := secretForms(consumerSecret, tempSecret, verifier)
	forms = append(forms, "canary") // no piece of any secret at all

	echo := func(r *http.Request) string {
		body, _ := io.ReadAll(r.Body)
		return r.Header.Get("Authorization") + " " + string(body) + " " + r.URL.RawQuery
	}
	handlers := map[string]http.HandlerFunc{
		"problem 401": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(401)
			io.WriteString(w, url.Values{"oauth_problem": {echo(r)}, "oauth_problem_advice": {echo(r)}}.Encode())
		},
		"problem 200": func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, url.Values{"oauth_problem": {echo(r)}}.Encode())
		},
		"www-authenticate": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `OAuth oauth_problem="`+url.PathEscape(echo(r))+`"`)
			w.WriteHeader(401)
		},
		"json problem": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"oauth_problem":%q}`, echo(r))
		},
		"html 500": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(500)
			io.WriteString(w, "<pre>"+echo(r)+"</pre>")
		},
		"200 without token": func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, url.Values{"message": {echo(r)}}.Encode())
		},
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere?"+url.Values{"echo": {echo(r)}}.Encode(), http.StatusFound)
		},
	}
	for name, h := range handlers {
		srv := httptest.NewServer(h)
		for _, method := range []string{PLAINTEXT, HMACSHA1} {
			for _, placement := range []string{PlacementHeader, PlacementQuery, PlacementBody} {
				cfg := Config{
					ConsumerKey: "ck", ConsumerSecret: consumerSecret, SignatureMethod: method, Placement: placement,
					RequestTokenURI: srv.URL + "/initiate", TokenURI: srv.URL + "/token",
				}
				temp := &Token{Token: "tmp", Secret: tempSecret}
				calls := map[string]func() error{
					"RequestToken": func() error { _, err := cfg.RequestToken(context.Background(), srv.Client(), ""); return err },
					"AccessToken": func() error {
						_, err := cfg.AccessToken(context.Background(), srv.Client(), temp, verifier)
						return err
					},
				}
				for call, f := range calls {
					err := f()
					if err == nil {
						t.Fatalf("%s %s %s/%s: no error", name, call, method, placement)
					}
					checkNoSecret(t, fmt.Sprintf("%s %s %s/%s", name, call, method, placement), err, forms)
				}
			}
		}
		srv.Close()
	}

	// Callback problems echoing the temporary secret.
	_, err := ParseCallback(url.Values{"oauth_problem": {"bad " + tempSecret}}, &Token{Token: "tmp", Secret: tempSecret})
	checkNoSecret(t, "callback", err, forms)

	// Broken private keys are never quoted.
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der := x509.MarshalPKCS1PrivateKey(key)
	broken := map[string]string{
		"truncated": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der[:len(der)/2]})),
		"not PEM":   "canary-private-key-material",
		"headers":   "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: canary\n\ncanary\n-----END RSA PRIVATE KEY-----",
	}
	for name, pk := range broken {
		body := pk
		if block, _ := pem.Decode([]byte(pk)); block != nil {
			body = string(block.Bytes[:min(16, len(block.Bytes))])
		}
		keyForms := append(forms, pk, body)
		_, err := ConfigFromMap(map[string]any{"consumerKey": "ck", "signatureMethod": "RSA-SHA1", "privateKey": pk})
		checkNoSecret(t, "ConfigFromMap "+name, err, keyForms)
		err = Config{ConsumerKey: "ck", SignatureMethod: RSASHA1, PrivateKey: pk}.Sign(newRequest(t, "GET", "https://a.example/", "", ""), nil, nil)
		checkNoSecret(t, "Sign "+name, err, keyForms)
	}

	// Config errors name keys, not values.
	for _, m := range []map[string]any{
		{"consumerKey": "ck", "consumerSecret": []any{consumerSecret}},
		{"consumerKey": "ck", "tokenUri": "relative/" + consumerSecret},
		{"consumerKey": "ck", "extra": map[string]any{"k": []any{consumerSecret}}},
	} {
		_, err := ConfigFromMap(m)
		checkNoSecret(t, "ConfigFromMap", err, forms)
	}
}

func checkNoSecret(t *testing.T, what string, err error, forms []string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	texts := []string{err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err)}
	var pe *ProviderError
	if errors.As(err, &pe) {
		texts = append(texts, pe.Problem, pe.Advice)
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		texts = append(texts, e.Error())
	}
	for _, text := range texts {
		for _, s := range forms {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("%s: secret %q in error text %q", what, s, text)
			}
		}
	}
}
