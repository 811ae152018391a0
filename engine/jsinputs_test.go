package engine

import (
	"testing"
	"testing/fstest"
)

// Methods run on a live connection receive the connection's client under
// both names the docs use: apiClient (auth method pages) and
// externalApiClient (https://docs.integration.app/docs/javascript,
// "Arguments"). Reading either must load without a warning; a name no
// method receives still warns.
func TestJSMethodsReceiveBothClientNames(t *testing.T) {
	cases := []struct {
		method, file, param string
		warn                bool
	}{
		{"test", "test.js", "externalApiClient", false},
		{"test", "test.js", "apiClient", false},
		{"refreshCredentials", "refresh-credentials.js", "externalApiClient", false},
		{"disconnect", "disconnect.js", "externalApiClient", false},
		{"test", "test.js", "internalApiClient", true},
	}
	for _, c := range cases {
		t.Run(c.method+"/"+c.param, func(t *testing.T) {
			fsys := fstest.MapFS{
				"c/spec.yml": {Data: []byte(`key: c
name: C
auth:
  type: client-credentials
  makeApiClient:
    implementationType: mapping
    mapping: {baseUri: https://api.example.com}
  ` + c.method + `:
    implementationType: javascript
`)},
				"c/auth/" + c.file: {Data: []byte("module.exports = async function({" + c.param + "}) { return " + c.param + " !== undefined }\n")},
			}
			_, diags := New().LoadFS(fsys, "c")
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if got := len(diags) > 0; got != c.warn {
				t.Fatalf("warning %v, want %v:\n%s", got, c.warn, diags.Error())
			}
		})
	}
}
