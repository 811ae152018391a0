package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// JSON Schema `default`s (JSON Schema Validation, section 9.2 "default")
// apply to connector parameters and connection input, as integration.app
// applies them: QuickBooks' published connector declares its scopes only as
// a parametersSchema default, and its authorize URL must carry them.
func TestSchemaDefaultsFillParametersAndInput(t *testing.T) {
	src := `key: d
name: D
parametersSchema:
  type: object
  properties:
    clientId: {type: string}
    scopes: {type: array, items: {type: string}, default: [com.intuit.quickbooks.accounting, openid]}
ui:
  schema:
    type: object
    properties:
      region: {type: string, enum: [eu, us], default: eu}
      options:
        type: object
        properties: {sandbox: {type: boolean, default: true}}
        default: {}
auth:
  type: oauth2
  getOAuthConfig:
    mapping:
      clientId: {$var: connectorParameters.clientId}
      authorizeUri: https://appcenter.intuit.test/connect/oauth2
      tokenUri: https://oauth.platform.intuit.test/oauth2/v1/tokens/bearer
      scopes: {$var: connectorParameters.scopes}
  makeApiClient:
    mapping:
      baseUri: {$tpl: {template: "{{URL}}/{region}/{sandbox}", values: {region: {$var: connectionParameters.region}, sandbox: {$var: connectionParameters.options.sandbox}}}}
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}
`
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	e := newEngine(t, srv, src)
	ctx := context.Background()

	params := map[string]any{"clientId": "cid"}
	input := map[string]any{}
	req, err := e.AuthorizationURL(ctx, Connection{Connector: "d", ConnectorParameters: params, ConnectionParameters: input}, redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(req.URL)
	if got := u.Query().Get("scope"); got != "com.intuit.quickbooks.accounting openid" {
		t.Errorf("scope = %q, want the parametersSchema default", got)
	}
	if len(params) != 1 || len(input) != 0 {
		t.Errorf("the caller's maps were changed: %v %v", params, input)
	}

	// Defaults for input, nested ones too; given values win.
	creds := map[string]any{"access_token": "tok"}
	cl := mustClient(t, e, Connection{Connector: "d", ConnectorParameters: params, ConnectionParameters: map[string]any{"options": map[string]any{}}, Credentials: creds})
	if got := cl.BaseURL().String(); !strings.HasSuffix(got, "/eu/true") {
		t.Errorf("base = %s, want the defaults eu and true", got)
	}
	cl = mustClient(t, e, Connection{Connector: "d", ConnectorParameters: params, ConnectionParameters: map[string]any{"region": "us", "options": map[string]any{"sandbox": false}}, Credentials: creds})
	if got := cl.BaseURL().String(); !strings.HasSuffix(got, "/us/false") {
		t.Errorf("base = %s, want the given us and false", got)
	}
	// Stored credentials without input: defaults fill in, nothing is
	// demanded of a form the user is not filling.
	cl = mustClient(t, e, Connection{Connector: "d", ConnectorParameters: params, Credentials: creds})
	if got := cl.BaseURL().String(); !strings.HasSuffix(got, "/eu/true") {
		t.Errorf("base = %s", got)
	}
}
