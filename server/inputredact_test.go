package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// A connection test that fails quoting what the person typed: the admin
// API's answer and the logs show the subdomain, never the API key.
func TestConnectErrorsShowNonSecretInputOnly(t *testing.T) {
	const connector = `key: tenant
name: Tenant API
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties:
        subdomain: {type: string}
        apiKey: {type: string}
        passphrase: {type: string, x-connspec-secret: true}
      required: [subdomain, apiKey]
  makeApiClient:
    mapping: {baseUri: "https://api.example.com"}
  test:
    implementationType: javascript
    code: |
      export default async function test({ connectionParameters: p }) {
        throw new Error("no tenant " + p.subdomain + " for key " + p.apiKey + " / " + p.passphrase)
      }
`
	e := newEnv(t, envOptions{connectors: map[string]string{"tenant": connector}})
	status, body := e.api("POST", "/v1/connections", map[string]any{"connector": "tenant", "account": "acc-1",
		"input": map[string]any{"subdomain": "acme-subdomain-77", "apiKey": canaryAPIKey, "passphrase": canaryClientSecret}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(string(body), "no tenant acme-subdomain-77 for key [REDACTED] / [REDACTED]") {
		t.Errorf("create: %d %s", status, body)
	}
	e.assertNoCanaries(string(body))
}
