package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/connspec/connspec/schemas"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func mustLoad(t *testing.T, fsys fstest.MapFS, p string) *Connector {
	t.Helper()
	c, diags := Load(fsys, p)
	if c == nil || diags.HasErrors() {
		t.Fatalf("Load(%s) failed:\n%s", p, diags.Error())
	}
	return c
}

func TestDirectoryLayoutFindsMethodsByConvention(t *testing.T) {
	fsys := fstest.MapFS{
		"acme/spec.yml": file(`key: acme
name: Acme
auth:
  type: oauth2
  test:
    implementationType: javascript
`),
		"acme/auth/oauth-config.yml":          file("clientId: {$var: connectorParameters.clientId}\n"),
		"acme/auth/make-api-client.map.yml":   file("baseUri: https://api.acme.test\n"),
		"acme/auth/test.ts":                   file("export default async function () { return true }\n"),
		"acme/auth/refresh-credentials.js":    file("export default function () {}\n"),
		"acme/auth/get-token-data.expr":       file("connectorParameters\n"),
		"acme/auth/notes.md":                  file("not a method\n"),
		"acme/auth/unrelated/make-api-client": file("ignored\n"),
	}
	c := mustLoad(t, fsys, "acme")
	if c.Layout != LayoutDirectory || c.SpecFile != "acme/spec.yml" {
		t.Errorf("layout %v spec %q", c.Layout, c.SpecFile)
	}
	want := map[string]string{
		MethodGetOAuthConfig:     ImplMapping + "@acme/auth/oauth-config.yml",
		MethodMakeAPIClient:      ImplMapping + "@acme/auth/make-api-client.map.yml",
		MethodTest:               ImplJavaScript + "@acme/auth/test.ts",
		MethodRefreshCredentials: ImplJavaScript + "@acme/auth/refresh-credentials.js",
		MethodGetTokenData:       ImplExpr + "@acme/auth/get-token-data.expr",
	}
	got := map[string]string{}
	for name, m := range c.Auth.Methods {
		got[name] = m.ImplementationType + "@" + m.Body.File
	}
	if !mapsEqual(got, want) {
		t.Errorf("methods = %v\nwant %v", got, want)
	}
	if l := c.Auth.Methods[MethodTest].Language; l != "typescript" {
		t.Errorf("test language = %q", l)
	}
	if m := c.Auth.Methods[MethodMakeAPIClient].Mapping; m == nil || m.Line != 1 {
		t.Errorf("makeApiClient mapping node = %v", m)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestInlineCodePositionsMapToTheSpecFile(t *testing.T) {
	fsys := fstest.MapFS{"stripe.yml": file(`name: Stripe
auth:
  type: client-credentials
  makeApiClient:
    implementationType: javascript
    code: |
      export default function ({ credentials }) {
        return { baseUri: "https://api.stripe.com" }
      }
`)}
	c := mustLoad(t, fsys, "stripe.yml")
	if c.Key != "stripe" {
		t.Errorf("key from file name = %q, want stripe", c.Key)
	}
	m := c.Auth.Methods[MethodMakeAPIClient]
	if !strings.HasPrefix(m.Source, "export default function") {
		t.Fatalf("source = %q", m.Source)
	}
	// Line 2, column 9 of the code is the "r" of "return" in the file.
	if got := m.SourcePos(2, 3); got != (Pos{File: "stripe.yml", Line: 8, Column: 9}) {
		t.Errorf("SourcePos(2,3) = %v, want stripe.yml:8:9", got)
	}
	if got := m.SourcePos(1, 1); got != (Pos{File: "stripe.yml", Line: 7, Column: 7}) {
		t.Errorf("SourcePos(1,1) = %v, want stripe.yml:7:7", got)
	}
}

func TestOptionsMergeOverTheBaseBlock(t *testing.T) {
	fsys := fstest.MapFS{
		"jira/spec.yml": file(`name: Jira
auth:
  type: oauth2
  title: OAuth
  ui:
    helpUri: https://help.test/base
    schema:
      type: object
      properties:
        site: {type: string}
      required: [site]
  getOAuthConfig:
    mapping: {clientId: x}
  makeApiClient:
    mapping: {baseUri: https://api.test}
  refreshCredentials:
    code: "export default function () {}"
  options:
    token:
      type: client-credentials
      ui:
        schema:
          type: object
          properties:
            email: {type: string}
            token: {type: string}
          required: [email, token]
`),
		"jira/auth/token/test.js": file("export default function () {}\n"),
	}
	c := mustLoad(t, fsys, "jira")
	opt, ok := c.Option("token")
	if !ok || opt.Type != "client-credentials" {
		t.Fatalf("option token = %+v", opt)
	}
	if opt.Title != "OAuth" || opt.UI.HelpURI != "https://help.test/base" {
		t.Errorf("title/helpUri not inherited: %q %q", opt.Title, opt.UI.HelpURI)
	}
	props := opt.UI.Schema.Value["properties"].(map[string]any)
	if len(props) != 3 {
		t.Errorf("merged properties = %v", props)
	}
	if req := opt.UI.Schema.Value["required"].([]any); !slices.Equal(req, []any{"site", "email", "token"}) {
		t.Errorf("merged required = %v", req)
	}
	if opt.UI.Schema.Compiled == nil {
		t.Error("merged schema not compiled")
	}
	if m := opt.Methods[MethodMakeAPIClient]; m == nil || !m.Inherited {
		t.Errorf("makeApiClient should be inherited: %+v", m)
	}
	if m := opt.Methods[MethodTest]; m == nil || m.Inherited || m.Body.File != "jira/auth/token/test.js" {
		t.Errorf("option test should come from auth/token/test.js: %+v", m)
	}
	if _, ok := opt.Methods[MethodRefreshCredentials]; ok {
		t.Error("refreshCredentials must not be inherited")
	}
	if _, ok := opt.Methods[MethodGetOAuthConfig]; ok {
		t.Error("getOAuthConfig is not a client-credentials method")
	}
	if c.Auth.Methods[MethodTest] != nil {
		t.Error("the option's test file must not become the base's test")
	}
}

func TestDiagnosticsArePositioned(t *testing.T) {
	fsys := fstest.MapFS{"bad.yml": file(`name: Bad
auth:
  type: oauth3
  makeApiClinet:
    mapping: {}
`)}
	_, diags := Load(fsys, "bad.yml")
	want := []string{
		`bad.yml:3:9: error: unknown auth type "oauth3"; did you mean oauth2?`,
		`bad.yml:4:3: error: unknown key "makeApiClinet" in auth; did you mean makeApiClient?`,
	}
	if len(diags) != len(want) {
		t.Fatalf("got %d diagnostics:\n%s", len(diags), diags.Error())
	}
	for i, w := range want {
		if !strings.HasPrefix(diags[i].String(), w) {
			t.Errorf("diagnostic %d = %q\nwant prefix %q", i, diags[i].String(), w)
		}
	}
	if diags[0].Path != "/auth/type" {
		t.Errorf("path = %q", diags[0].Path)
	}
}

func TestHostileInputGetsADiagnostic(t *testing.T) {
	bomb := "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	prev := "a"
	for i := 'b'; i <= 'j'; i++ {
		bomb += string(i) + ": &" + string(i) + " [" + strings.Repeat("*"+prev+",", 9) + "*" + prev + "]\n"
		prev = string(i)
	}
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	cases := map[string]struct {
		src  string
		want string
	}{
		"alias bomb":   {bomb, "too many aliases"},
		"deep nesting": {"name: " + deep + "\n", "nested more than"},
		"huge":         {"name: x\n" + strings.Repeat("#", MaxFileSize), "larger than the 10 MiB limit"},
		"binary":       {"name: \xff\xfe\x00", "not UTF-8"},
		"empty":        {"", "file is empty"},
		"only comment": {"# nothing\n", "file is empty"},
		"scalar":       {"just a string\n", "must be a YAML mapping"},
		"two docs":     {"name: a\n---\nname: b\n", "more than one YAML document"},
		"tab":          {"name: x\nauth:\n\ttype: oauth2\n", "tab character"},
		"null key":     {"~: x\n", "mapping key must be a string"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, diags := Load(fstest.MapFS{"c.yml": file(tc.src)}, "c.yml")
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got:\n%s", tc.want, diags.Error())
			}
			for _, d := range diags {
				if d.File != "c.yml" {
					t.Errorf("diagnostic without file: %v", d)
				}
			}
		})
	}
}

func TestFilePathCannotLeaveTheConnector(t *testing.T) {
	for _, fp := range []string{"../secret.js", "/etc/passwd", "auth/../../x.js"} {
		fsys := fstest.MapFS{
			"c/spec.yml": file("name: C\nauth:\n  type: client-credentials\n  makeApiClient:\n    implementationType: javascript\n    filePath: " + fp + "\n"),
			"secret.js":  file("export default () => ({})\n"),
		}
		_, diags := Load(fsys, "c")
		if !strings.Contains(diags.Error(), "leaves the connector folder") {
			t.Errorf("filePath %s: %s", fp, diags.Error())
		}
	}
}

// A filePath may only name a connector source: a sibling key or .env file
// is refused by its name, at the filePath value, and never read, so no
// diagnostic (of the loader or of a compiler later) can quote it.
func TestFilePathOnlyNamesConnectorSources(t *testing.T) {
	const canary = "canary-sibling-secret"
	siblings := map[string]string{
		"secrets.env":     "API_KEY=" + canary + "\n",
		"id_rsa":          "-----BEGIN OPENSSH PRIVATE KEY-----\n" + canary + "\n",
		"creds.json":      `{"token": "` + canary + `"}`,
		"notes.txt":       "a: [" + canary + "\n",
		"Makefile.js.bak": canary + " = 1\n",
	}
	for _, layout := range []string{"single", "directory"} {
		for sibling, content := range siblings {
			for _, impl := range []string{ImplJavaScript, ImplMapping, ImplExpr} {
				t.Run(layout+"/"+sibling+"/"+impl, func(t *testing.T) {
					specYAML := "name: C\nauth:\n  type: client-credentials\n  makeApiClient:\n    implementationType: " + impl + "\n    filePath: " + sibling + "\n"
					if impl == ImplExpr {
						specYAML = "name: C\nauth:\n  type: client-credentials\n  makeApiClient:\n    mapping: {baseUri: https://a.test}\n  getCredentialsFromConnectionParameters:\n    implementationType: expr\n    filePath: " + sibling + "\n"
					}
					dir := t.TempDir()
					target, specFile := filepath.Join(dir, "c.yml"), filepath.Join(dir, "c.yml")
					if layout == "directory" {
						target, specFile = dir, filepath.Join(dir, "spec.yml")
					}
					if err := os.WriteFile(specFile, []byte(specYAML), 0o644); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(dir, sibling), []byte(content), 0o600); err != nil {
						t.Fatal(err)
					}
					c, diags := LoadPath(target)
					if c != nil || len(diags) != 1 {
						t.Fatalf("want one error, got:\n%s", diags.Error())
					}
					d := diags[0]
					line := strings.Count(specYAML[:strings.Index(specYAML, "filePath:")], "\n") + 1
					if d.File != specFile || d.Line != line || d.Column != 15 {
						t.Errorf("reported at %s:%d:%d, want %s:%d:15 (the filePath value)", d.File, d.Line, d.Column, specFile, line)
					}
					if want := "filePath \"" + sibling + "\" is not a connector source"; !strings.Contains(d.Message, want) {
						t.Errorf("message %q does not say %q", d.Message, want)
					}
					if strings.Contains(diags.Error(), canary) {
						t.Errorf("a diagnostic quotes the sibling file:\n%s", diags.Error())
					}
				})
			}
		}
	}
}

func TestDiscoverFindsConnectorsRecursively(t *testing.T) {
	fsys := fstest.MapFS{
		"lib/github/spec.yml":       file("name: GitHub\n"),
		"lib/github/auth/test.js":   file(""),
		"lib/single/stripe.yml":     file("name: Stripe\n"),
		"lib/broken/auth/test.js":   file(""),
		"lib/.hidden/x.yml":         file(""),
		"lib/node_modules/a/b.yaml": file(""),
	}
	found, diags := Discover(fsys, "lib")
	if !slices.Equal(found, []string{"lib/github", "lib/single/stripe.yml"}) {
		t.Errorf("found %v", found)
	}
	if len(diags) != 1 || diags[0].File != "lib/broken" || !strings.Contains(diags[0].Message, "no spec.yml") {
		t.Errorf("diags = %v", diags)
	}
	_, diags = Discover(fstest.MapFS{"empty/readme.txt": file("")}, "empty")
	if !diags.HasErrors() {
		t.Error("a directory without connectors must be reported")
	}
}

func TestLoadPathNamesFilesFromTheWorkingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my-api")
	if err := os.MkdirAll(filepath.Join(dir, "auth"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "spec.yml"), []byte("name: My API\nauth:\n  type: client-credentials\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "auth", "make-api-client.map.yml"), []byte("baseUri: [\n"), 0o644)
	_, diags := LoadPath(dir)
	if len(diags) == 0 || !strings.HasPrefix(diags[0].File, filepath.Join(dir, "auth", "make-api-client.map.yml")) {
		t.Fatalf("diags = %s", diags.Error())
	}
	os.WriteFile(filepath.Join(dir, "auth", "make-api-client.map.yml"), []byte("baseUri: https://x.test\n"), 0o644)
	c, diags := LoadPath(dir)
	if c == nil || c.Key != "my-api" {
		t.Fatalf("key from folder name: %v %s", c, diags.Error())
	}
	if got := c.DisplayPath(c.Auth.Methods[MethodMakeAPIClient].Body.File); got != filepath.Join(dir, "auth", "make-api-client.map.yml") {
		t.Errorf("DisplayPath = %q", got)
	}
}

// The JSON Schema and the auth-type table must describe the same format:
// the schema drives editors, the table drives validation and execution.
func TestSchemaAgreesWithAuthTypeTable(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal(schemas.Connector, &s); err != nil {
		t.Fatal(err)
	}
	body := lookupPointer(s, "/definitions/auth/properties").(map[string]any)
	for _, m := range AllMethodNames() {
		if _, ok := body[m]; !ok {
			t.Errorf("method %s is missing from the schema", m)
		}
	}
	// An option is an auth block without options; draft-07 (what editors
	// support) has no unevaluatedProperties, so the two lists are written out.
	option := lookupPointer(s, "/definitions/authOption/properties").(map[string]any)
	for k := range body {
		if _, ok := option[k]; !ok && k != "options" {
			t.Errorf("auth key %s is missing from authOption", k)
		}
	}
	for k := range option {
		if _, ok := body[k]; !ok || k == "options" {
			t.Errorf("authOption key %s does not belong", k)
		}
	}
	if s["$schema"] != "http://json-schema.org/draft-07/schema#" {
		t.Errorf("the schema must stay draft-07 for yaml-language-server, got %v", s["$schema"])
	}
	var enum []string
	for _, v := range lookupPointer(s, "/definitions/auth/properties/type/enum").([]any) {
		enum = append(enum, v.(string))
	}
	if !slices.Equal(slices.Sorted(slices.Values(enum)), AuthTypeNames()) {
		t.Errorf("schema auth types %v != registered %v", enum, AuthTypeNames())
	}
	var impls []string
	for _, v := range lookupPointer(s, "/definitions/implementationType/enum").([]any) {
		impls = append(impls, v.(string))
	}
	for _, name := range AuthTypeNames() {
		at, _ := LookupAuthType(name)
		for m, rule := range at.Methods {
			for _, impl := range rule.Implementations {
				if !slices.Contains(impls, impl) {
					t.Errorf("%s.%s allows %s, which the schema does not list", name, m, impl)
				}
			}
		}
	}
}

func TestSymlinkCannotLeaveTheConnector(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside.js")
	os.WriteFile(outside, []byte("export default () => ({})\n"), 0o644)
	dir := filepath.Join(base, "c")
	os.MkdirAll(filepath.Join(dir, "auth"), 0o755)
	os.WriteFile(filepath.Join(dir, "spec.yml"), []byte("name: C\nauth:\n  type: client-credentials\n"), 0o644)
	if err := os.Symlink(outside, filepath.Join(dir, "auth", "make-api-client.js")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	c, diags := LoadPath(dir)
	if c != nil || !strings.Contains(diags.Error(), "cannot read auth/make-api-client.js: path escapes") {
		t.Fatalf("a symlink out of the connector was followed: %v\n%s", c, diags.Error())
	}
}

// auth/ui.yml (and auth/<option>/ui.yml) is found by convention like the
// method files, as integration.app's directory layout keeps the connection
// form there (issue 13). Its schema errors point into ui.yml.
func TestUIFileFoundByConvention(t *testing.T) {
	spec := `key: acme
name: Acme
auth:
  options:
    api-key:
      type: client-credentials
    token:
      type: client-credentials
      ui:
        schema: {type: object, properties: {token: {type: string}}}
`
	fsys := fstest.MapFS{
		"acme/spec.yml": file(spec),
		"acme/auth/ui.yml": file(`description: Shared help
helpUri: https://acme.test/help
`),
		"acme/auth/api-key/ui.yml": file(`schema:
  type: object
  properties:
    apiKey: {type: string, title: API key}
  required: [apiKey]
description: Paste your key
`),
		"acme/auth/api-key/make-api-client.map.yml": file("baseUri: https://api.acme.test\n"),
		"acme/auth/token/make-api-client.map.yml":   file("baseUri: https://api.acme.test\n"),
	}
	c := mustLoad(t, fsys, "acme")
	if c.Auth.UI == nil || c.Auth.UI.HelpURI != "https://acme.test/help" {
		t.Errorf("base ui = %+v", c.Auth.UI)
	}
	opt := c.Auth.Options["api-key"]
	if opt.UI == nil || opt.UI.Schema == nil || opt.UI.Description != "Paste your key" || opt.UI.Schema.Pos.File != "acme/auth/api-key/ui.yml" {
		t.Fatalf("option ui = %+v", opt.UI)
	}
	if err := opt.UI.Schema.Compiled.Validate(map[string]any{}); err == nil {
		t.Error("the form's required apiKey is not enforced")
	}

	// Both forms at once, a broken schema and an unknown key are reported
	// in ui.yml.
	fsys["acme/auth/token/ui.yml"] = file("schema: {type: object}\n")
	fsys["acme/auth/api-key/ui.yml"] = file("schema:\n  type: objekt\nlabel: x\n")
	_, diags := Load(fsys, "acme")
	text := diags.Error()
	for _, want := range []string{
		"acme/spec.yml:9:7: error: the connection form is defined both here and by acme/auth/token/ui.yml; keep one",
		"acme/auth/api-key/ui.yml:2:9: error:",
		`acme/auth/api-key/ui.yml:3:1: warning: unknown key "label" in acme/auth/api-key/ui.yml is ignored`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, text)
		}
	}
}
