package spec_test

import (
	"fmt"
	"testing/fstest"

	"github.com/connspec/connspec/spec"
)

// Load collects every problem at once, each at its file:line:col.
func ExampleLoad() {
	fsys := fstest.MapFS{
		"github/spec.yml": {Data: []byte(`name: GitHub
auth:
  type: oauth3
  makeApiClinet:
    implementationType: mapping
`)},
	}
	_, diags := spec.Load(fsys, "github")
	for _, d := range diags {
		fmt.Println(d)
	}
	// Output:
	// github/spec.yml:3:9: error: unknown auth type "oauth3"; did you mean oauth2? (known: client-credentials, oauth2, oauth1, jwt-bearer, proxy, integration-app-token, membrane-token, github-app, aws-sigv4, hmac-signature, session-login)
	// github/spec.yml:4:3: error: unknown key "makeApiClinet" in auth; did you mean makeApiClient?
}
