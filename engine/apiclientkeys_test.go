package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/connspec/connspec/internal/oauthtest"
)

// The makeApiClient results integration.app's docs write must reach the
// wire; every other key is refused by name, never dropped.

// Follows console.integration.app/docs/connector-builder/authentication/types/client-credentials,
// "API Key in Query Parameter": baseUrl and defaultQueryParameters.
func TestDocsAPIKeyInQueryParameter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	e := newEngine(t, srv, `name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUrl: {{URL}}/v1
      defaultQueryParameters:
        api_key:
          $var: credentials.apiKey
      headers:
        Content-Type: application/json
`)
	got := get(t, mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": "k-123"}}), "/users?page=2")
	q := got["query"].(map[string]any)
	if got["path"] != "/v1/users" || q["api_key"] == nil || q["api_key"].([]any)[0] != "k-123" || q["page"].([]any)[0] != "2" {
		t.Errorf("server saw %v", got)
	}
}

// Follows console.integration.app/docs/connector-builder/authentication/methods/make-api-client,
// "JavaScript Implementation": the function returns baseUrl and headers.
func TestDocsJavaScriptMakeApiClientWithBaseUrl(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	e := newEngine(t, srv, `name: C
auth:
  type: client-credentials
  makeApiClient:
    code: |
      export default function ({ credentials }) {
        return {
          baseUrl: '{{URL}}',
          headers: { Authorization: 'Bearer ' + credentials.access_token, Accept: 'application/json' },
        }
      }
`)
	got := get(t, mustClient(t, e, Connection{ConnectionParameters: map[string]any{"access_token": "at-1"}}), "/me")
	if got["auth"] != "Bearer at-1" || got["path"] != "/me" {
		t.Errorf("server saw %v", got)
	}
}

// A result computed at run time (JavaScript or an expression) with a key
// the engine would drop is an error naming the key, not its value; so are
// a key given under both of its names, a key beside args, and unknown keys
// of auth and of a response handler.
func TestMakeApiClientRunTimeKeysAreChecked(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	const secret = "canary-Zq81secret"
	cases := []struct {
		name, impl, want string
	}{
		{"unknown key", `code: "export default ({ credentials }) => ({ baseUri: '{{URL}}', defaultHeaders: { 'X-Api-Key': credentials.key } })"`, `"defaultHeaders"`},
		{"typo of headers", `code: "export default ({ credentials }) => ({ baseUri: '{{URL}}', header: { 'X-Api-Key': credentials.key } })"`, `"header"`},
		{"both baseUri and baseUrl", `code: "export default () => ({ baseUri: '{{URL}}', baseUrl: '{{URL}}/v2' })"`, "both baseUri and baseUrl"},
		{"both query and defaultQueryParameters", `code: "export default ({ credentials }) => ({ baseUri: '{{URL}}', query: { a: credentials.key }, defaultQueryParameters: { b: credentials.key } })"`, "both defaultQueryParameters and query"},
		{"key beside args", `code: "export default ({ credentials }) => ({ args: { baseUri: '{{URL}}' }, headers: { 'X-Api-Key': credentials.key } })"`, `"headers" beside args`},
		{"unknown auth key", `code: "export default ({ credentials }) => ({ baseUri: '{{URL}}', auth: { token: credentials.key } })"`, `auth has key "token"`},
		{"unknown handler key", `code: "export default () => ({ baseUri: '{{URL}}', responseHandlers: [{ match: true, isSucces: true }] })"`, `responseHandlers[0] has key "isSucces"`},
		{"expression", `expr: '{"baseUri": "{{URL}}", "apiKey": credentials.key}'`, `"apiKey"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, srv, "name: C\nauth:\n  type: client-credentials\n  makeApiClient:\n    "+tc.impl+"\n")
			_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"key": secret}})
			if err == nil {
				t.Fatal("no error: the key would be dropped silently")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "makeApiClient") {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the secret: %q", err)
			}
		})
	}
}

// A proxy connector's baseUrl replaces the underlying connection's baseUri:
// aliases are renamed before the overlay, so the two do not collide.
func TestProxyBaseUrlOverridesUnderlyingBaseUri(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	e := New()
	fsys := fstest.MapFS{
		"base.yml": {Data: []byte(strings.ReplaceAll(`name: Base
key: base
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: {{URL}}/base
      headers: {X-Api-Key: {$var: credentials.key}}
`, "{{URL}}", srv.URL))},
		"proxy.yml": {Data: []byte(strings.ReplaceAll(`name: Proxy
key: proxy
auth:
  type: proxy
  proxyKey: base
  makeApiClient:
    mapping:
      baseUrl: {{URL}}/proxied
`, "{{URL}}", srv.URL))},
	}
	for _, f := range []string{"base.yml", "proxy.yml"} {
		if _, diags := e.LoadFS(fsys, f); diags.HasErrors() {
			t.Fatalf("%s does not load:\n%s", f, diags.Error())
		}
	}
	cl, err := e.Client(context.Background(), Connection{Connector: "proxy", Base: &Connection{Connector: "base", ConnectionParameters: map[string]any{"key": "k1"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := get(t, cl, "/x")
	if got["path"] != "/proxied/x" || got["apiKey"] != "k1" {
		t.Errorf("server saw %v", got)
	}
}

// Follows console.integration.app/docs/connector-builder/authentication/types/oauth2,
// "Configuration" and "Custom Credentials Extraction": the method is named
// getCredentialsFromTokenResponse and runs after the code exchange.
func TestDocsGetCredentialsFromTokenResponse(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	src := oauthConnector(srv, "") + `  getCredentialsFromTokenResponse:
    code: |
      export default function ({ tokenResponse }) {
        return { access_token: tokenResponse.access_token, refresh_token: tokenResponse.refresh_token, userName: 'from-method' }
      }
`
	e := newEngine(t, nil, src)
	creds := authorizeConnection(t, e, srv, Connection{Connector: "c", ConnectorParameters: clientParams})
	if creds["userName"] != "from-method" {
		t.Errorf("getCredentialsFromTokenResponse did not run: credentials have %v", keys(creds))
	}
}

// The docs' method name is an alias of getCredentialsFromAccessTokenResponse,
// so a module may export its function under either name: the OAuth2 page
// (console.integration.app/docs/connector-builder/authentication/types/oauth2,
// "Custom Credentials Extraction") names the function
// getCredentialsFromTokenResponse. Two different functions under the two
// names are refused rather than one picked silently.
func TestDocsGetCredentialsFromTokenResponseNamedExport(t *testing.T) {
	fn := `function (input) { return { access_token: input.tokenResponse.access_token, refresh_token: input.tokenResponse.refresh_token, userName: 'from-method' } }`
	for _, tc := range []struct{ name, code, wantErr string }{
		{"commonjs alias", `exports.getCredentialsFromTokenResponse = ` + fn, ""},
		{"esm alias", `export const getCredentialsFromTokenResponse = ` + fn, ""},
		{"esm method name", `export const getCredentialsFromAccessTokenResponse = ` + fn, ""},
		{"both names, same function", `const f = ` + fn + `; exports.getCredentialsFromTokenResponse = f; exports.getCredentialsFromAccessTokenResponse = f`, ""},
		{"both names, different functions", `exports.getCredentialsFromTokenResponse = ` + fn + `; exports.getCredentialsFromAccessTokenResponse = ` + fn, "two different functions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := oauthtest.New(t, oauthtest.Options{})
			src := oauthConnector(srv, "") + "  getCredentialsFromTokenResponse:\n    implementationType: javascript\n    code: |\n      " + tc.code + "\n"
			e := New()
			_, diags := e.LoadFS(fstest.MapFS{"c.yml": {Data: []byte(src)}}, "c.yml")
			if tc.wantErr != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.wantErr) {
					t.Fatalf("want a load error %q, got:\n%v", tc.wantErr, diags)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("connector does not load:\n%s", diags.Error())
			}
			creds := authorizeConnection(t, e, srv, Connection{Connector: "c", ConnectorParameters: clientParams})
			if creds["userName"] != "from-method" {
				t.Errorf("the exported function did not run: credentials have %v", keys(creds))
			}
		})
	}
}
