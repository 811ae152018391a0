package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

// Membrane's connector page names the API client argument externalApiClient
// (https://docs.getmembrane.com/reference/workspace-elements/connectors,
// "Example connector definition": test reads { externalApiClient }). Every
// method that receives apiClient receives it under that name too, and
// validation says so: no "does not receive it" warning.
func TestExternalApiClientIsAnInputWhereApiClientIs(t *testing.T) {
	for _, method := range []string{"test", "refreshCredentials", "disconnect"} {
		src := fmt.Sprintf(`name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping: {baseUri: https://api.example.com}
  %s:
    type: javascript
    code: |
      export default async function ({ externalApiClient }) {
        return await externalApiClient.get("/me")
      }
`, method)
		_, diags := New().LoadFS(fstest.MapFS{"c.yml": {Data: []byte(src)}}, "c.yml")
		if len(diags) > 0 {
			t.Errorf("%s reading externalApiClient: %s", method, diags.Error())
		}
	}
}

// The test function of that example runs through externalApiClient.
func TestExternalApiClientInTestSendsTheRequest(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.URL.Path != "/current-user" || r.Header.Get("Authorization") != "Bearer k1" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"email":"a@example.com"}`)
	}))
	defer srv.Close()
	e := newEngine(t, srv, strings.TrimSpace(`
name: C
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: {{URL}}
      headers: {Authorization: {$concat: ["Bearer ", {$var: credentials.api_token}]}}
  test:
    type: javascript
    code: |
      export default async function ({ externalApiClient }) {
        const responseData = await externalApiClient.get("/current-user")
        return responseData.email !== undefined
      }
`))
	cl := mustClient(t, e, Connection{ConnectionParameters: map[string]any{"api_token": "k1"}})
	if err := cl.Test(context.Background()); err != nil || calls != 1 {
		t.Errorf("Test: %v after %d calls, want ok after 1", err, calls)
	}
}
