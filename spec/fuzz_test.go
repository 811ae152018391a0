package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzLoad feeds arbitrary bytes to the loader as a connector directory's
// spec.yml (next to a few method files) and as a single-file connector. It
// must never panic or hang, and what it returns must be consistent.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/specs/*/*.yml")
	more, _ := filepath.Glob("../testdata/specs/*/*/spec.yml")
	for _, p := range append(seeds, more...) {
		if data, err := os.ReadFile(p); err == nil && len(data) < 4096 {
			f.Add(data)
		}
	}
	f.Add([]byte("name: x\nauth:\n  type: oauth2\n  options:\n    a: {type: client-credentials}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"c/spec.yml":                       {Data: data},
			"c/auth/make-api-client.map.yml":   {Data: []byte("baseUri: https://api.test\n")},
			"c/auth/test.js":                   {Data: []byte("export default () => true\n")},
			"c/auth/get-oauth-config.expr":     {Data: []byte("connectorParameters\n")},
			"c/auth/a/make-api-client.map.yml": {Data: data},
			"single.yml":                       {Data: data},
		}
		for _, p := range []string{"c", "single.yml"} {
			c, diags := Load(fsys, p)
			if (c == nil) != diags.HasErrors() {
				t.Fatalf("connector %v with diagnostics:\n%s", c != nil, diags.Error())
			}
			for _, d := range diags {
				if d.File == "" || d.Message == "" || strings.Contains(d.Message, "%!") {
					t.Fatalf("malformed diagnostic %#v", d)
				}
			}
		}
	})
}
