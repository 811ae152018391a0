package oauth2

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func txMap(kv ...any) map[string]any {
	m := map[string]any{"tokenUri": "https://sts.example/token", "grantType": GrantTokenExchange, "subjectToken": "subj-SECRET-1"}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// TestTokenExchangeConfigErrors: each misuse is refused naming the key and
// never the token.
func TestTokenExchangeConfigErrors(t *testing.T) {
	for name, c := range map[string]struct {
		m    map[string]any
		want string
	}{
		"short grant alias":    {txMap("grantType", "token_exchange"), "must be the URN " + GrantTokenExchange},
		"no subject token":     {txMap("subjectToken", nil), "subjectToken is required"},
		"empty subject token":  {txMap("subjectToken", ""), "subjectToken is required"},
		"actor without type":   {txMap("actorToken", "act-1"), "actorToken and actorTokenType"},
		"actor type alone":     {txMap("actorTokenType", "urn:x"), "actorToken and actorTokenType"},
		"bad resource":         {txMap("resource", "/api"), "resource"},
		"key beside cc grant":  {txMap("grantType", GrantClientCredentials), "subjectToken is only used with grantType"},
		"subject token object": {txMap("subjectToken", map[string]any{"a": "b"}), "subjectToken"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ConfigFromMap(c.m)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want %q, got %v", c.want, err)
			}
			if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "act-1") {
				t.Errorf("token in error: %v", err)
			}
		})
	}
}

// TestExchangeTokenAnswers: the §2.2 answer is checked: an actor pair is
// sent, a token_type N_A or an issued_token_type other than the requested
// one is refused, and an echoed subject token is scrubbed.
func TestExchangeTokenAnswers(t *testing.T) {
	var answer map[string]any
	var status int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.PostForm.Get("actor_token") != "actor-SECRET-2" || r.PostForm.Get("actor_token_type") != "urn:ietf:params:oauth:token-type:jwt" ||
			r.PostForm.Get("subject_token_type") != TokenTypeAccessToken {
			status, answer = 400, map[string]any{"error": "invalid_request", "error_description": "fields: " + r.PostForm.Encode()}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(answer)
	}))
	defer srv.Close()
	cfg, err := ConfigFromMap(txMap("tokenUri", srv.URL, "actorToken", "actor-SECRET-2", "actorTokenType", "urn:ietf:params:oauth:token-type:jwt",
		"requestedTokenType", "urn:ietf:params:oauth:token-type:access_token"))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		status int
		answer map[string]any
		want   string
	}{
		"ok":           {200, map[string]any{"access_token": "at", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "token_type": "Bearer"}, ""},
		"N_A":          {200, map[string]any{"access_token": "at", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "token_type": "N_A"}, "not an access token"},
		"other type":   {200, map[string]any{"access_token": "at", "issued_token_type": "urn:ietf:params:oauth:token-type:saml2", "token_type": "Bearer"}, "issued_token_type \"urn:ietf:params:oauth:token-type:saml2\""},
		"echoed error": {400, map[string]any{"error": "invalid_target", "error_description": "bad subj-SECRET-1 for actor-SECRET-2"}, "invalid_target"},
	} {
		t.Run(name, func(t *testing.T) {
			status, answer = c.status, c.answer
			tok, err := cfg.ExchangeToken(context.Background(), srv.Client())
			if c.want == "" {
				if err != nil || tok.AccessToken != "at" {
					t.Fatalf("%v %v", tok, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want %q, got %v", c.want, err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("token in error: %v", err)
			}
		})
	}
}

// TestExchangeTokenClientAssertion: the exchange authenticates the client
// as configured, here with a client_secret_jwt assertion (RFC 7523) and no
// secret on the wire.
func TestExchangeTokenClientAssertion(t *testing.T) {
	var bad string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		f := r.PostForm
		_, _, basic := r.BasicAuth()
		switch {
		case f.Get("grant_type") != GrantTokenExchange || f.Get("subject_token") != "subj-SECRET-1":
			bad = "exchange fields: " + f.Get("grant_type")
		case f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || strings.Count(f.Get("client_assertion"), ".") != 2:
			bad = "no client assertion"
		case basic || f.Has("client_secret") || strings.Contains(f.Encode(), "app-secret-SECRET-xyz-0123456789abcdef"):
			bad = "the client secret went on the wire"
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "issued_token_type": TokenTypeAccessToken, "token_type": "Bearer", "expires_in": 60})
	}))
	defer srv.Close()
	cfg, err := ConfigFromMap(txMap("tokenUri", srv.URL, "clientId", "client-1", "clientSecret", "app-secret-SECRET-xyz-0123456789abcdef", "clientAuthLocation", "client_secret_jwt"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.ExchangeToken(context.Background(), srv.Client())
	if err != nil || tok.AccessToken != "at" || tok.ExpiresAt.IsZero() {
		t.Fatalf("%v %v", tok, err)
	}
	if bad != "" {
		t.Error(bad)
	}
}
