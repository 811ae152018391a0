package oauth2

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestAuthorizationURL(t *testing.T) {
	c := Config{
		ClientID:       "client id",
		AuthorizeURI:   "https://auth.example.com/oauth/authorize?tenant=acme&response_type=token",
		TokenURI:       "https://auth.example.com/oauth/token",
		Scopes:         []string{"read:user", "repo"},
		ScopeSeparator: ",",
		Extra:          map[string]string{"access_type": "offline", "prompt": "consent", "state": "from-extra"},
	}
	raw, err := c.AuthorizationURL("https://app.example.com/cb?x=1", "st4te", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Host != "auth.example.com" || u.Path != "/oauth/authorize" {
		t.Fatalf("endpoint changed: %s", raw)
	}
	want := url.Values{
		"tenant":                {"acme"},
		"response_type":         {"code"},
		"client_id":             {"client id"},
		"redirect_uri":          {"https://app.example.com/cb?x=1"},
		"scope":                 {"read:user,repo"},
		"state":                 {"st4te"},
		"code_challenge":        {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"},
		"access_type":           {"offline"},
		"prompt":                {"consent"},
	}
	got := u.Query()
	if len(got) != len(want) {
		t.Errorf("query has %d parameters, want %d: %s", len(got), len(want), u.RawQuery)
	}
	for k, v := range want {
		if len(got[k]) != 1 || got[k][0] != v[0] {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if strings.Contains(raw, "dBjftJeZ4CVP") {
		t.Error("the verifier itself is in the authorization URL")
	}
}

func TestAuthorizationURLDefaultsAndSkipPKCE(t *testing.T) {
	c := Config{ClientID: "id", AuthorizeURI: "https://a.example/authorize", Scopes: []string{"a", "b"}, SkipPKCE: true}
	raw, err := c.AuthorizationURL("", "s", "")
	if err != nil {
		t.Fatal(err)
	}
	q, _ := url.Parse(raw)
	got := q.Query()
	if got.Get("scope") != "a b" {
		t.Errorf("scope = %q, want space-joined", got.Get("scope"))
	}
	for _, k := range []string{"code_challenge", "code_challenge_method", "redirect_uri"} {
		if got.Has(k) {
			t.Errorf("%s present: %s", k, raw)
		}
	}
	c.Scopes = nil
	raw, _ = c.AuthorizationURL("", "s", "")
	if q, _ := url.Parse(raw); q.Query().Has("scope") {
		t.Errorf("empty scope sent: %s", raw)
	}
}

func TestAuthorizationURLErrors(t *testing.T) {
	ok := Config{ClientID: "id", AuthorizeURI: "https://a.example/authorize"}
	cases := map[string]struct {
		c                 Config
		state, verifier   string
		wantErrSubstrings string
	}{
		"no state":       {ok, "", "v", "state"},
		"no verifier":    {ok, "s", "", "verifier"},
		"no client id":   {Config{AuthorizeURI: ok.AuthorizeURI}, "s", "v", "clientId"},
		"no authorize":   {Config{ClientID: "id"}, "s", "v", "authorizeUri"},
		"relative":       {Config{ClientID: "id", AuthorizeURI: "/authorize"}, "s", "v", "authorizeUri"},
		"javascript uri": {Config{ClientID: "id", AuthorizeURI: "javascript:alert(1)"}, "s", "v", "authorizeUri"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := tc.c.AuthorizationURL("", tc.state, tc.verifier)
			if err == nil || !strings.Contains(err.Error(), tc.wantErrSubstrings) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErrSubstrings)
			}
		})
	}
}

func TestParseCallback(t *testing.T) {
	q := func(s string) url.Values { v, _ := url.ParseQuery(s); return v }
	code, err := ParseCallback(q("code=abc&state=xyz"), "xyz")
	if err != nil || code != "abc" {
		t.Fatalf("ParseCallback = %q, %v", code, err)
	}
	for _, tc := range []struct{ query, want string }{
		{"code=abc&state=other", "xyz"},
		{"code=abc", "xyz"},
		{"code=abc&state=", ""},
		{"code=abc&state=xy", "xyz"},
		{"error=access_denied", "xyz"},
	} {
		if _, err := ParseCallback(q(tc.query), tc.want); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("%s: err = %v, want ErrStateMismatch", tc.query, err)
		}
	}
	_, err = ParseCallback(q("error=access_denied&error_description=The+user+said+no&error_uri=https%3A%2F%2Fdocs&state=xyz"), "xyz")
	var ce *CallbackError
	if !errors.As(err, &ce) || ce.Code != "access_denied" || ce.Description != "The user said no" || ce.URI != "https://docs" {
		t.Fatalf("err = %#v, want CallbackError access_denied", err)
	}
	if !strings.Contains(err.Error(), "access_denied") || !strings.Contains(err.Error(), "The user said no") {
		t.Errorf("Error() = %q", err)
	}
	if _, err := ParseCallback(q("state=xyz"), "xyz"); !errors.Is(err, ErrMissingCode) {
		t.Errorf("err = %v, want ErrMissingCode", err)
	}
}
