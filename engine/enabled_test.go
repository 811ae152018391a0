package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
)

// An auth option whose `enabled` flag is off must be refused, for API
// calls and for starting an authorization, never quietly used. Follows
// https://docs.integration.app/docs/authentication-1, "Authentication Spec"
// (option2 `enabled: {$var: connectorParameters.clientId}`).
func TestDisabledOptionIsRefused(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Write([]byte(`{"id":1}`))
	}))
	defer srv.Close()
	src := strings.ReplaceAll(`key: opts
name: Opts
auth:
  options:
    key:
      type: client-credentials
      enabled: {ENABLED}
      makeApiClient:
        implementationType: mapping
        mapping:
          baseUri: {{URL}}
          headers: {X-Api-Key: {$var: credentials.apiKey}}
    oauth:
      type: oauth2
      enabled: {$var: connectorParameters.clientId}
      getOAuthConfig:
        implementationType: mapping
        mapping:
          clientId: {$var: connectorParameters.clientId}
          authorizeUri: {{URL}}/authorize
          tokenUri: {{URL}}/token
      makeApiClient:
        implementationType: mapping
        mapping:
          baseUri: {{URL}}
          headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`, "{{URL}}", srv.URL)
	cases := []struct {
		name, enabled, option string
		params                map[string]any
		creds                 map[string]any
		wantOff               bool
	}{
		{"formula off: no clientId", "true", "oauth", map[string]any{"other": "x"}, map[string]any{"access_token": "t"}, true},
		{"formula off: empty clientId", "true", "oauth", map[string]any{"clientId": ""}, map[string]any{"access_token": "t"}, true},
		{"formula on", "true", "oauth", map[string]any{"clientId": "c"}, map[string]any{"access_token": "t"}, false},
		{"constant false", "false", "key", nil, map[string]any{"apiKey": "k"}, true},
		{"constant true", "true", "key", nil, map[string]any{"apiKey": "k"}, false},
		{"formula over parameters", "{$var: connectorParameters.useKey}", "key", map[string]any{"useKey": false}, map[string]any{"apiKey": "k"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := New()
			text := strings.ReplaceAll(src, "{ENABLED}", c.enabled)
			if _, diags := e.LoadFS(fstest.MapFS{"c.yml": {Data: []byte(text)}}, "c.yml"); diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			before := calls.Load()
			conn := Connection{Connector: "opts", Option: c.option, ConnectorParameters: c.params, Credentials: c.creds}
			cl, err := e.Client(context.Background(), conn)
			if err == nil {
				_, err = cl.Do(context.Background(), http.MethodGet, "/me", nil)
			}
			if !c.wantOff {
				if err != nil {
					t.Fatalf("an enabled option failed: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "not enabled") || !strings.Contains(err.Error(), c.option) {
				t.Fatalf("a disabled option: err %v, want one saying option %q is not enabled", err, c.option)
			}
			if calls.Load() != before {
				t.Fatal("a disabled option sent a request")
			}
			if c.option == "oauth" {
				if _, err := e.AuthorizationURL(context.Background(), conn, "https://app.example.test/cb"); err == nil || !strings.Contains(err.Error(), "not enabled") {
					t.Fatalf("authorizing a disabled option: err %v, want not enabled", err)
				}
			}
		})
	}
}

// An enabled formula that fails names the option and never quotes the
// connector parameters it read (canary value).
func TestEnabledFormulaErrorIsRedacted(t *testing.T) {
	const canary = "CANARY-enabled-s3cr3t"
	e := New()
	src := `key: c
name: C
auth:
  options:
    a:
      type: client-credentials
      enabled: {$expr: 'int(connectorParameters.clientSecret) > 0'}
      makeApiClient:
        implementationType: mapping
        mapping: {baseUri: https://api.example.com}
`
	if _, diags := e.LoadFS(fstest.MapFS{"c.yml": {Data: []byte(src)}}, "c.yml"); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, err := e.Client(context.Background(), Connection{Connector: "c", Option: "a",
		ConnectorParameters: map[string]any{"clientSecret": canary}, Credentials: map[string]any{"k": "v"}})
	if err == nil || !strings.Contains(err.Error(), `option "a"`) {
		t.Fatalf("err %v, want one naming option \"a\"", err)
	}
	if strings.Contains(err.Error(), canary) {
		t.Fatalf("the error quotes a connector parameter: %v", err)
	}
}
