package spec

import (
	"strings"
	"testing"
	"testing/fstest"
)

// Membrane's rest-api-mapping page: a method's request lives in
// <function-name>.rest.yml (or .api.yml).
// https://docs.getmembrane.com/docs/references/functions/function-types/rest-api-mapping, "Using in Connector Files".
// operation-mapping (.op.yml) has no runnable definition here: refused at load.
func TestMethodFileSuffixes(t *testing.T) {
	const specYML = "name: C\nauth:\n  type: client-credentials\n  makeApiClient:\n    mapping: {baseUri: https://api.example.com}\n"
	for _, c := range []struct{ file, impl, err string }{
		{"test.rest.yml", ImplRestAPIMapping, ""},
		{"test.api.yml", ImplRestAPIMapping, ""},
		{"test.rest.yaml", ImplRestAPIMapping, ""},
		{"test.map.yml", ImplMapping, ""},
		{"test.op.yml", "", "operation-mapping (.op.yml) is not supported"},
	} {
		t.Run(c.file, func(t *testing.T) {
			fsys := fstest.MapFS{
				"c/spec.yml":       {Data: []byte(specYML)},
				"c/auth/" + c.file: {Data: []byte("path: /me\nmethod: get\n")},
			}
			conn, diags := Load(fsys, "c")
			if c.err != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), c.err) {
					t.Errorf("diagnostics %q, want %q", diags.Error(), c.err)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("load: %s", diags.Error())
			}
			if m := conn.Auth.Methods[MethodTest]; m == nil || m.ImplementationType != c.impl {
				t.Errorf("test method %+v, want implementation %s", m, c.impl)
			}
		})
	}
	// Declared by name, operation-mapping is refused at load too.
	src := specYML + "  test:\n    implementationType: operation-mapping\n"
	_, diags := Load(fstest.MapFS{"c.yml": {Data: []byte(src)}}, "c.yml")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "operation-mapping") {
		t.Errorf("implementationType operation-mapping: %q", diags.Error())
	}
}
