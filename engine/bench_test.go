package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/connspec/connspec/spec"
)

// BenchmarkLoadCompileDirectoryTS loads and compiles a directory connector
// whose methods include TypeScript (esbuild transform + goja compile),
// mappings with formulas and JSON Schemas: what `connspec validate` costs per
// connector.
func BenchmarkLoadCompileDirectoryTS(b *testing.B) {
	fsys := os.DirFS(filepath.Join("..", "testdata", "specs", "valid"))
	b.ReportAllocs()
	for b.Loop() {
		c, diags := spec.Load(fsys, "slack")
		if c == nil {
			b.Fatal(diags.Error())
		}
		if _, diags := Compile(c); diags.HasErrors() {
			b.Fatal(diags.Error())
		}
	}
}
