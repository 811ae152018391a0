package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing/fstest"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/spec"
)

// A connector is loaded (spec.Load), then compiled (engine.Compile); both
// report problems as positioned diagnostics.
func Example() {
	fsys := fstest.MapFS{"acme.yml": {Data: []byte(`name: Acme
auth:
  type: client-credentials
  makeApiClient:
    mapping:
      baseUri: https://api.acme.test/v1
      headers:
        Authorization: {$concat: ["Bearer ", {$var: credentails.token}]}
`)}}
	c, diags := spec.Load(fsys, "acme.yml")
	if diags.HasErrors() {
		fmt.Println(diags)
		return
	}
	compiled, diags := engine.Compile(c)
	fmt.Println(compiled.Spec.Key, compiled.Auth.Type.Name)
	for _, d := range diags {
		fmt.Println(d)
	}
	// Output:
	// acme client-credentials
	// acme.yml:8:47: warning: makeApiClient reads credentails.token, but it does not receive "credentails" (did you mean credentials?)
}

// An embedding program loads a connector once, then asks for a client per
// connection; the client sets the credentials on every request itself.
func ExampleEngine_Client() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"path": %q, "key": %q}`, r.URL.Path, r.Header.Get("X-Api-Key"))
	}))
	defer api.Close()

	eng := engine.New()
	_, diags := eng.LoadFS(fstest.MapFS{"acme.yml": {Data: []byte(`name: Acme
auth:
  type: client-credentials
  ui:
    schema: {type: object, properties: {apiKey: {type: string}}, required: [apiKey]}
  makeApiClient:
    mapping:
      baseUri: ` + api.URL + `/v2
      headers: {X-Api-Key: {$var: credentials.apiKey}}
`)}}, "acme.yml")
	if diags.HasErrors() {
		fmt.Println(diags)
		return
	}
	client, err := eng.Client(context.Background(), engine.Connection{
		Connector:            "acme",
		ConnectionParameters: map[string]any{"apiKey": "k-123"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	body, err := client.Get(context.Background(), "/users")
	fmt.Println(body, err)
	// Output:
	// map[key:k-123 path:/v2/users] <nil>
}
