package spec

import (
	"strings"
	"testing"
	"testing/fstest"
)

// Membrane's flat connector definition (https://docs.getmembrane.com/docs/oauth2,
// "Connector Definition": `type: oauth2` and the functions at the top level)
// loads into the same model as the nested auth: block, and problems inside
// it are reported where the flat file has them.

const flatOAuth2 = `name: Flat
key: flat
type: oauth2
getOAuthConfig:
  type: mapping
  mapping:
    clientId: {$var: connectorParameters.clientId}
    authorizeUri: https://auth.example.com/oauth2/authorize
    tokenUri: https://auth.example.com/oauth2/token
makeApiClient:
  type: mapping
  mapping:
    baseUri: https://api.example.com
test:
  type: javascript
  code: |
    export default async function ({ apiClient }) { return true }
`

const nestedOAuth2 = `name: Flat
key: flat
auth:
  type: oauth2
  getOAuthConfig:
    type: mapping
    mapping:
      clientId: {$var: connectorParameters.clientId}
      authorizeUri: https://auth.example.com/oauth2/authorize
      tokenUri: https://auth.example.com/oauth2/token
  makeApiClient:
    type: mapping
    mapping:
      baseUri: https://api.example.com
  test:
    type: javascript
    code: |
      export default async function ({ apiClient }) { return true }
`

func TestFlatDefinitionLoadsLikeNested(t *testing.T) {
	flat := mustLoad(t, fstest.MapFS{"c.yml": file(flatOAuth2)}, "c.yml")
	nested := mustLoad(t, fstest.MapFS{"c.yml": file(nestedOAuth2)}, "c.yml")
	if !flat.Flat || nested.Flat {
		t.Errorf("Flat = %v (flat), %v (nested)", flat.Flat, nested.Flat)
	}
	if flat.Auth == nil || flat.Auth.Type != "oauth2" {
		t.Fatalf("flat auth = %+v", flat.Auth)
	}
	for name, nm := range nested.Auth.Methods {
		fm := flat.Auth.Methods[name]
		if fm == nil {
			t.Errorf("flat form lost method %s", name)
			continue
		}
		if fm.ImplementationType != nm.ImplementationType || fm.Source != nm.Source {
			t.Errorf("method %s: flat %s %q, nested %s %q", name, fm.ImplementationType, fm.Source, nm.ImplementationType, nm.Source)
		}
	}
	if len(flat.Auth.Methods) != len(nested.Auth.Methods) {
		t.Errorf("flat has %d methods, nested %d", len(flat.Auth.Methods), len(nested.Auth.Methods))
	}
	// Positions are those of the flat file: makeApiClient's key at 10:1,
	// the test's code on line 17.
	if p := flat.Auth.Methods[MethodMakeAPIClient].Pos; p.Line != 10 || p.Column != 1 {
		t.Errorf("makeApiClient at %d:%d, want 10:1", p.Line, p.Column)
	}
	if p := flat.Auth.Methods[MethodTest].SourcePos(1, 1); p.Line != 17 {
		t.Errorf("test code at line %d, want 17", p.Line)
	}
}

func TestFlatDefinitionDiagnosticsPointIntoTheFlatFile(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"method not allowed for the type", "name: C\ntype: client-credentials\nmakeApiClient:\n  type: mapping\n  mapping: {baseUri: https://a.example}\ngetOAuthConfig:\n  type: mapping\n  mapping: {}\n",
			"c.yml:6:1: error: method getOAuthConfig is not allowed for auth type client-credentials"},
		{"required method missing", "name: C\ntype: oauth2\nmakeApiClient:\n  type: mapping\n  mapping: {baseUri: https://a.example}\n",
			"c.yml:2:1: error: auth (type oauth2) has no getOAuthConfig method"},
		{"unknown auth type", "name: C\ntype: oauth3\nmakeApiClient:\n  type: mapping\n  mapping: {baseUri: https://a.example}\n",
			"c.yml:2:7:"},
		{"inline code with wrong type", "name: C\ntype: client-credentials\nmakeApiClient:\n  type: mapping\n  code: 'export default () => ({})'\n",
			"c.yml:5:3: error: method makeApiClient: inline code does not go with type mapping"},
		{"functions without a type", "name: C\nmakeApiClient:\n  type: mapping\n  mapping: {baseUri: https://a.example}\n",
			"c.yml:2:1: error: auth has no type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Load(fstest.MapFS{"c.yml": file(tt.src)}, "c.yml")
			if !strings.Contains(diags.Error(), tt.want) {
				t.Errorf("diagnostics:\n%s\nwant one containing %q", diags.Error(), tt.want)
			}
		})
	}
}

// A file with both an auth: block and top-level auth keys could mean either;
// it is refused, naming each top-level key, never merged silently.
func TestFlatAndNestedAuthTogetherAreRefused(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"type at both levels", "name: C\ntype: oauth2\nauth:\n  type: client-credentials\n  makeApiClient: {type: mapping, mapping: {baseUri: https://a.example}}\n",
			[]string{"c.yml:2:1: error: top-level type next to an auth: block (line 3)"}},
		{"a method at the top level", "name: C\nauth:\n  type: client-credentials\n  makeApiClient: {type: mapping, mapping: {baseUri: https://a.example}}\ntest:\n  type: javascript\n  code: 'export default () => true'\n",
			[]string{"c.yml:5:1: error: top-level test next to an auth: block (line 2)"}},
		{"an alias and a setting", "name: C\nproxyKey: other\ngetCredentialsFromTokenResponse: {type: mapping, mapping: {}}\nauth:\n  type: client-credentials\n  makeApiClient: {type: mapping, mapping: {baseUri: https://a.example}}\n",
			[]string{"c.yml:2:1: error: top-level proxyKey next to an auth: block", "c.yml:3:1: error: top-level getCredentialsFromTokenResponse next to an auth: block"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, diags := Load(fstest.MapFS{"c.yml": file(tt.src)}, "c.yml")
			if c != nil {
				t.Fatal("the ambiguous connector loaded")
			}
			for _, w := range tt.want {
				if !strings.Contains(diags.Error(), w) {
					t.Errorf("diagnostics:\n%s\nwant one containing %q", diags.Error(), w)
				}
			}
		})
	}
}

// The flat form in the directory layout: spec.yml flat, a method body found
// by the file-name convention under auth/, as for the nested form.
func TestFlatDefinitionInDirectoryLayout(t *testing.T) {
	c := mustLoad(t, fstest.MapFS{
		"acme/spec.yml":                     file("name: Acme\ntype: client-credentials\n"),
		"acme/auth/make-api-client.map.yml": file("baseUri: https://api.acme.test\n"),
	}, "acme")
	if m := c.Auth.Methods[MethodMakeAPIClient]; m == nil || m.Body.File != "acme/auth/make-api-client.map.yml" {
		t.Errorf("makeApiClient = %+v", m)
	}
}
