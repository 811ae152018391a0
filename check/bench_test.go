package check

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkCheckLibrary is `connspec check ./connectors`: every bundled
// connector replayed against its fixtures.
func BenchmarkCheckLibrary(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		results, diags := Path(context.Background(), filepath.Join("..", "connectors"))
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		for _, cr := range results {
			for _, r := range cr.Results {
				if !r.OK() {
					b.Fatalf("%s: %v", cr.Key, r.Problems)
				}
			}
		}
	}
}
