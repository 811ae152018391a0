package oauth2

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestSecretsNeverInErrors runs every request against endpoints that echo
// the whole request back in their error fields, and checks that no secret
// that was sent shows up in the resulting error, in any encoding the echo
// used.
func TestSecretsNeverInErrors(t *testing.T) {
	const (
		clientSecret = "canary-client-secret:+/x"
		code         = "canary-auth-code-4711"
		verifier     = "canary-verifier-0123456789abcdefghijklmnopqrstuvwxyz"
		refreshToken = "canary-refresh-token-0815"
	)
	secrets := []string{clientSecret, code, verifier, refreshToken}
	var forms []string
	for _, s := range secrets {
		forms = append(forms, s, url.QueryEscape(s))
	}
	forms = append(forms, base64.StdEncoding.EncodeToString([]byte("my-client:"+url.QueryEscape(clientSecret))))

	echo := func(r *http.Request) string {
		body, _ := io.ReadAll(r.Body)
		return r.Header.Get("Authorization") + " " + string(body) + " " + r.URL.RawQuery
	}
	handlers := map[string]http.HandlerFunc{
		"400 JSON description": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "got " + echo(r)})
		},
		"400 JSON code": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(map[string]string{"error": echo(r)})
		},
		"200 error object": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "bad", "message": echo(r)}})
		},
		"401 form": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
			w.WriteHeader(401)
			io.WriteString(w, url.Values{"error": {"invalid_client"}, "error_description": {echo(r)}}.Encode())
		},
		"500 HTML": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(500)
			io.WriteString(w, "<pre>"+echo(r)+"</pre>")
		},
		"200 without access_token": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]string{"message": echo(r)})
		},
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/?"+url.Values{"echo": {echo(r)}}.Encode(), http.StatusFound)
		},
	}
	for name, h := range handlers {
		srv := httptest.NewServer(h)
		for _, format := range []string{FormatForm, FormatJSON} {
			for _, loc := range []string{AuthInHeaders, AuthInBody} {
				c := testConfig(srv.URL + "/token")
				c.ClientSecret = clientSecret
				c.TokenRequestFormat = format
				c.ClientAuthLocation = loc
				calls := map[string]func() (*Token, error){
					"Exchange": func() (*Token, error) {
						return c.Exchange(context.Background(), srv.Client(), code, "https://app.example/cb", verifier)
					},
					"Refresh": func() (*Token, error) { return c.Refresh(context.Background(), srv.Client(), refreshToken) },
					"ClientCredentials": func() (*Token, error) {
						return c.ClientCredentials(context.Background(), srv.Client())
					},
				}
				for call, f := range calls {
					_, err := f()
					if err == nil {
						t.Fatalf("%s %s %s/%s: no error", name, call, format, loc)
					}
					texts := []string{err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err)}
					var te *TokenError
					if errors.As(err, &te) {
						texts = append(texts, te.Code, te.Description)
						for e := te.Err; e != nil; e = errors.Unwrap(e) {
							texts = append(texts, e.Error())
						}
					}
					for _, text := range texts {
						for _, s := range forms {
							if strings.Contains(text, s) {
								t.Errorf("%s %s %s/%s: secret %q in error text %q", name, call, format, loc, s, text)
							}
						}
					}
				}
			}
		}
		srv.Close()
	}
}
