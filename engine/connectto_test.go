package engine

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A real connector's hosts can be pointed at a local mock without editing
// it (issue 13, "Testing against a provider without editing the
// connector"): the token request and API calls reach the mock with the
// original Host header, while the host policy still judges the
// connector's own URLs.
func TestConnectToSendsAConnectorsHostsToAMock(t *testing.T) {
	var hosts []string
	mock := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts = append(hosts, r.Host+" "+r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/mock/oauth2/v1/tokens/bearer" {
			w.Write([]byte(`{"access_token":"at-1","token_type":"bearer","expires_in":3600}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"auth": r.Header.Get("Authorization")})
	}))
	defer mock.Close()
	src := `key: qb
name: QuickBooks-like
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: cid
      clientSecret: secret
      grantType: client_credentials
      tokenUri: https://oauth.platform.intuit.test/oauth2/v1/tokens/bearer
  makeApiClient:
    mapping:
      baseUri: https://quickbooks.api.intuit.test/v3
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`
	var rules []ConnectTo
	for _, r := range []string{"oauth.platform.intuit.test=" + mock.URL + "/mock", "quickbooks.api.intuit.test:443=" + mock.URL} {
		rule, err := ParseConnectTo(r, false)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, rule)
	}
	e := newEngine(t, nil, src, WithConnectTo(rules...))
	cl := mustClient(t, e, Connection{Connector: "qb"})
	if got := get(t, cl, "/company/1"); got["auth"] != "Bearer at-1" {
		t.Errorf("API got %v", got)
	}
	want := []string{"oauth.platform.intuit.test /mock/oauth2/v1/tokens/bearer", "quickbooks.api.intuit.test /v3/company/1"}
	if strings.Join(hosts, "|") != strings.Join(want, "|") {
		t.Errorf("the mock saw %q, want %q", hosts, want)
	}
	// The host policy is unchanged: another host is still refused.
	if _, err := cl.Get(context.Background(), mock.URL+"/steal"); err == nil || !strings.Contains(err.Error(), "refusing to send credentials") {
		t.Errorf("absolute URL to the mock's own address: %v", err)
	}
	if got := RewriteURL(rules, "https://oauth.platform.intuit.test/connect?x=1"); got != mock.URL+"/mock/connect?x=1" {
		t.Errorf("RewriteURL = %s", got)
	}
}

func TestParseConnectToRefusesRemoteTargets(t *testing.T) {
	for in, want := range map[string]string{
		"api.example.com=http://10.0.0.8:8080":    "not on this machine",
		"api.example.com=https://sandbox.example": "not on this machine",
		"api.example.com":                         "want HOST=URL",
		"=http://127.0.0.1:1":                     "want HOST=URL",
		"api.example.com=ftp://127.0.0.1":         "http(s) URL",
		"api.example.com=http://u:p@127.0.0.1:9":  "http(s) URL",
		"api.example.com/x=http://127.0.0.1:9":    "want HOST=URL",
		"api.example.com=http://127.0.0.1:9/?q=1": "at most a path",
	} {
		if _, err := ParseConnectTo(in, false); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "canary") {
			t.Errorf("ParseConnectTo(%q) = %v; want %q", in, err, want)
		}
	}
	if _, err := ParseConnectTo("api.example.com=https://sandbox.example", true); err != nil {
		t.Errorf("allowed remote target: %v", err)
	}
	for _, ok := range []string{"api.example.com=http://127.0.0.1:8080", "API.Example.com=http://localhost:1/p", "x.test=http://[::1]:9"} {
		if _, err := ParseConnectTo(ok, false); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}
