package spec

import (
	"strings"
	"testing"
	"testing/fstest"
)

// Membrane writes a connector function's implementation type as `type`, with
// the body inline under `mapping:` or `code:`:
//   - https://docs.getmembrane.com/reference/workspace-elements/connectors/connector-functions/make-api-client,
//     "Implementation Examples" (type: mapping + mapping:, type: javascript + code:)
//   - https://docs.getmembrane.com/docs/client-credentials, "Connector Definition"
//     (getCredentialsFromConnectionParameters and test as type: javascript + code:)
//
// The example below is the client-credentials definition, kept under auth:.
const membraneClientCredentials = `name: Example
auth:
  type: client-credentials
  ui:
    schema:
      type: object
      properties:
        apiKey: {type: string}
  getCredentialsFromConnectionParameters:
    type: javascript
    code: |
      export default async function ({ connectionInput }) {
        return { apiKey: connectionInput.apiKey }
      }
  makeApiClient:
    type: mapping
    mapping:
      baseUri: https://api.example.com/v1
      headers:
        Authorization:
          $concat:
            - "Bearer "
            - $var: credentials.apiKey
  test:
    type: javascript
    code: |
      export default async function ({ apiClient }) {
        const user = await apiClient.get("/user")
        return user.id !== undefined
      }
`

func TestMembraneMethodTypeLoadsLikeImplementationType(t *testing.T) {
	c := mustLoad(t, fstest.MapFS{"c.yml": file(membraneClientCredentials)}, "c.yml")
	want := map[string]string{
		MethodGetCredentialsFromConnectionParameters: ImplJavaScript,
		MethodMakeAPIClient:                          ImplMapping,
		MethodTest:                                   ImplJavaScript,
	}
	for name, impl := range want {
		m := c.Auth.Methods[name]
		if m == nil {
			t.Fatalf("method %s missing; methods %v", name, c.Auth.Methods)
		}
		if m.ImplementationType != impl {
			t.Errorf("%s: implementation %q, want %q", name, m.ImplementationType, impl)
		}
	}
	if m := c.Auth.Methods[MethodMakeAPIClient]; m.Mapping == nil || m.Body.Line != 18 {
		t.Errorf("makeApiClient mapping %v at line %d, want the inline mapping at line 18", m.Mapping, m.Body.Line)
	}
	if m := c.Auth.Methods[MethodTest]; !strings.Contains(m.Source, `apiClient.get("/user")`) || m.Body.Line != 27 {
		t.Errorf("test source %q at line %d, want the inline code from line 27", m.Source, m.Body.Line)
	}

	// The two spellings give the same connector.
	long := strings.ReplaceAll(membraneClientCredentials, "    type: ", "    implementationType: ")
	d := mustLoad(t, fstest.MapFS{"c.yml": file(long)}, "c.yml")
	for name := range want {
		if a, b := c.Auth.Methods[name], d.Auth.Methods[name]; a.ImplementationType != b.ImplementationType || a.Source != b.Source {
			t.Errorf("%s: type gives %+v, implementationType gives %+v", name, a, b)
		}
	}
}

// type names the implementation for filePath and convention files too, in
// options, and agrees with implementationType when both are written.
func TestMembraneMethodTypeWithFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"c/spec.yml": file(`name: C
auth:
  type: client-credentials
  makeApiClient:
    type: javascript
    filePath: client.js
  test:
    type: mapping
    implementationType: mapping
  options:
    other:
      type: client-credentials
      makeApiClient:
        type: expr
`),
		"c/client.js":                       file("export default function () { return {baseUri: 'https://a.test'} }\n"),
		"c/auth/test.map.yml":               file("ok: true\n"),
		"c/auth/other/make-api-client.expr": file("{baseUri: 'https://a.test'}\n"),
	}
	c := mustLoad(t, fsys, "c")
	if m := c.Auth.Methods[MethodMakeAPIClient]; m.ImplementationType != ImplJavaScript || m.Body.File != "c/client.js" {
		t.Errorf("makeApiClient %s@%s", m.ImplementationType, m.Body.File)
	}
	if m := c.Auth.Methods[MethodTest]; m.ImplementationType != ImplMapping || m.Body.File != "c/auth/test.map.yml" {
		t.Errorf("test %s@%s", m.ImplementationType, m.Body.File)
	}
	if m := c.Auth.Options["other"].Methods[MethodMakeAPIClient]; m.ImplementationType != ImplExpr {
		t.Errorf("option makeApiClient %s", m.ImplementationType)
	}
}

// Every check implementationType has applies to type, at type's position.
func TestMembraneMethodTypeErrorsArePositioned(t *testing.T) {
	const head = "name: C\nauth:\n  type: client-credentials\n  makeApiClient:\n    mapping: {baseUri: https://a.test}\n"
	for _, c := range []struct {
		name, method string
		line, col    int
		want         string
	}{
		{"disagree", "  test:\n    implementationType: mapping\n    type: javascript\n    code: x\n",
			8, 11, `type "javascript" and implementationType "mapping" disagree`},
		{"unknown value", "  test:\n    type: jscript\n    code: x\n",
			7, 11, `test.type: unknown value "jscript"`},
		{"not a name", "  test:\n    type: [javascript]\n    code: x\n",
			7, 11, "test.type"},
		{"body does not fit", "  test:\n    type: mapping\n    code: x\n",
			8, 5, "inline code does not go with type mapping"},
		{"not allowed for the method", "  refreshCredentials:\n    type: mapping\n    mapping: {}\n",
			7, 11, "method refreshCredentials cannot be implemented as mapping"},
		{"operation-mapping", "  test:\n    type: operation-mapping\n",
			7, 11, "operation-mapping (.op.yml) is not supported"},
		{"no body", "  test:\n    type: javascript\n",
			6, 3, "declared as javascript but has no body"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := Load(fstest.MapFS{"c.yml": file(head + c.method)}, "c.yml")
			for _, d := range diags {
				if strings.Contains(d.Message, c.want) {
					if d.Line != c.line || d.Column != c.col {
						t.Errorf("%q at %d:%d, want %d:%d", d.Message, d.Line, d.Column, c.line, c.col)
					}
					return
				}
			}
			t.Errorf("no diagnostic containing %q in:\n%s", c.want, diags.Error())
		})
	}
}
