package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/connspec/connspec/internal/oauthtest"
)

// Membrane's flat connector definition: the auth type and the auth
// functions sit at the top level of the connector file, each function with
// `type: mapping | javascript` and its body inline. Modelled on
// https://docs.getmembrane.com/docs/oauth2, "Connector Definition" (the
// minimal OAuth2 connector: getOAuthConfig, makeApiClient with a $concat
// Bearer header, and a javascript test reading apiClient.get).
func TestFlatOAuth2ConnectorRunsLikeNested(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	src := strings.NewReplacer("{{AUTH}}", srv.AuthorizeURL, "{{TOKEN}}", srv.TokenURL, "{{URL}}", srv.URL).Replace(`name: C
parametersSchema:
  type: object
  properties: {clientId: {type: string}, clientSecret: {type: string}}
type: oauth2
getOAuthConfig:
  type: mapping
  mapping:
    clientId:
      $var: connectorParameters.clientId
    clientSecret:
      $var: connectorParameters.clientSecret
    authorizeUri: {{AUTH}}
    tokenUri: {{TOKEN}}
makeApiClient:
  type: mapping
  mapping:
    baseUri: {{URL}}
    headers:
      Authorization:
        $concat:
          - 'Bearer '
          - $var: credentials.access_token
test:
  type: javascript
  code: |
    export default async function ({ apiClient }) {
      const user = await apiClient.get("/api/me")
      return user.user !== undefined
    }
`)
	e := newEngine(t, nil, src)
	conn := Connection{Connector: "c", ConnectorParameters: clientParams}
	conn.Credentials = authorizeConnection(t, e, srv, conn)
	cl := mustClient(t, e, conn)
	out, err := cl.Get(context.Background(), "/api/me")
	if err != nil {
		t.Fatalf("GET /api/me: %v", err)
	}
	if m, _ := out.(map[string]any); m["client_id"] != "client-1" {
		t.Errorf("provider saw %v", out)
	}
	if err := cl.Test(context.Background()); err != nil {
		t.Errorf("test: %v", err)
	}
}

// The flat form of a client-credentials connector: the auth type and the
// functions at the top level, as in the connector object of
// https://docs.getmembrane.com/api-reference/connectors/create-a-new-connector
// (type, makeApiClient, test beside name and key), makeApiClient as in
// https://docs.getmembrane.com/reference/workspace-elements/connectors/connector-functions/make-api-client,
// "Implementation Examples". The connection UI stays at the top level and
// the auth inherits it: the key the user typed reaches the provider, and a
// wrong key fails the test function.
func TestFlatClientCredentialsConnector(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "sk_good" {
			http.Error(w, `{"error":"bad key"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id": "me-1"}`))
	}))
	defer srv.Close()
	e := newEngine(t, srv, `name: C
type: client-credentials
ui:
  schema:
    type: object
    properties: {apiKey: {type: string}}
    required: [apiKey]
makeApiClient:
  type: mapping
  mapping:
    baseUri: {{URL}}
    headers:
      X-Api-Key: {$var: credentials.apiKey}
test:
  type: javascript
  code: |
    export default async function ({ apiClient }) {
      const me = await apiClient.get("/me")
      return me.id === "me-1"
    }
`)
	c, _ := e.Connector("c")
	if c.Spec.Auth.UI == nil && c.Spec.UI == nil {
		t.Fatal("the top-level ui is lost")
	}
	good := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": "sk_good"}})
	if err := good.Test(context.Background()); err != nil {
		t.Errorf("test with the right key: %v", err)
	}
	bad := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"apiKey": "sk_bad"}})
	if err := bad.Test(context.Background()); err == nil {
		t.Error("test with a wrong key passed")
	}
}
