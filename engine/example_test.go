package engine_test

import (
	"fmt"
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
