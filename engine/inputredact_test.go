package engine

import (
	"context"
	"strings"
	"testing"
)

// inputRedactSchema declares connection input of every kind: plain fields
// (shown), fields secret by name, by format, by writeOnly or by the
// x-connspec-secret keyword, one shown despite its name, and a nested object.
const inputRedactSchema = `
      type: object
      properties:
        subdomain: {type: string}
        region: {type: string, enum: [eu-west-3, us-east-1]}
        apiKey: {type: string}
        clientPassword: {type: string}
        pin: {type: string, format: password}
        recovery: {type: string, writeOnly: true}
        memo: {type: string, x-connspec-secret: true}
        keyspace: {type: string, x-connspec-secret: false}
        tags: {type: array, items: {type: string}}
        database:
          type: object
          properties:
            host: {type: string}
            login: {type: string, format: password}
`

// inputRedactValues are what the person typed: shown values start with
// "shown-", secret ones with "hidden-" (the undeclared field included:
// nothing says what it is).
var inputRedactValues = map[string]any{
	"subdomain": "shown-acme-corp-7", "region": "eu-west-3", "keyspace": "shown-keyspace-42",
	"tags":   []any{"shown-tag-alpha"},
	"apiKey": "hidden-apikey-9f8e7d", "clientPassword": "hidden-clientpw-1a2b", "pin": "hidden-pin-3c4d5e",
	"recovery": "hidden-recovery-6f7a", "memo": "hidden-memo-8b9c0d",
	"database":   map[string]any{"host": "shown-db.internal.example", "login": "hidden-dblogin-1e2f"},
	"undeclared": "hidden-undeclared-3a4b",
}

// assertInputRedaction checks an error that quotes every input value.
func assertInputRedaction(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"shown-acme-corp-7", "eu-west-3", "shown-keyspace-42", "shown-tag-alpha", "shown-db.internal.example"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the non-secret value %q is not shown: %s", want, msg)
		}
	}
	if strings.Contains(msg, "hidden-") || !strings.Contains(msg, "[REDACTED]") {
		t.Errorf("a secret input value is shown: %s", msg)
	}
}

func TestConnectionInputIsRedactedBySchemaNotWhole(t *testing.T) {
	t.Run("client-credentials test method", func(t *testing.T) {
		e := newEngine(t, nil, `key: c
name: C
auth:
  type: client-credentials
  ui:
    schema:`+inputRedactSchema+`
  makeApiClient:
    mapping: {baseUri: "https://api.example.com"}
  test:
    implementationType: javascript
    code: |
      export default async function test({ connectionParameters }) {
        throw new Error("the API refused " + JSON.stringify(connectionParameters))
      }
`)
		cl, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: inputRedactValues})
		if err != nil {
			t.Fatal(err)
		}
		assertInputRedaction(t, cl.Test(context.Background()))
	})
	t.Run("credentials from input", func(t *testing.T) {
		e := newEngine(t, nil, `key: c
name: C
auth:
  type: client-credentials
  ui:
    schema:`+inputRedactSchema+`
  makeApiClient:
    implementationType: javascript
    code: |
      export default function makeApiClient({ credentials }) {
        throw new Error("cannot build a client for " + JSON.stringify(credentials))
      }
`)
		_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: inputRedactValues})
		assertInputRedaction(t, err)
	})
	t.Run("oauth2 getOAuthConfig", func(t *testing.T) {
		e := newEngine(t, nil, `key: c
name: C
auth:
  type: oauth2
  ui:
    schema:`+inputRedactSchema+`
  getOAuthConfig:
    implementationType: javascript
    code: |
      export default function getOAuthConfig({ connectionInput }) {
        throw new Error("no app for " + JSON.stringify(connectionInput))
      }
  makeApiClient:
    mapping: {baseUri: "https://api.example.com"}
`)
		_, err := e.AuthorizationURL(context.Background(), Connection{Connector: "c", ConnectionParameters: inputRedactValues}, "https://app.example/cb")
		assertInputRedaction(t, err)
	})
}

// Without a schema nothing says which input is secret: all of it is hidden.
func TestConnectionInputWithoutSchemaIsHiddenWhole(t *testing.T) {
	e := newEngine(t, nil, `key: c
name: C
auth:
  type: client-credentials
  makeApiClient:
    implementationType: javascript
    code: |
      export default function makeApiClient({ connectionParameters }) {
        throw new Error("refused " + JSON.stringify(connectionParameters))
      }
`)
	_, err := e.Client(context.Background(), Connection{Connector: "c", ConnectionParameters: map[string]any{"subdomain": "hidden-subdomain-5d6e"}})
	if err == nil || strings.Contains(err.Error(), "hidden-") {
		t.Errorf("undeclared input is shown: %v", err)
	}
}
