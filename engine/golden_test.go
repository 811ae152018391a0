package engine

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connspec/connspec/spec"
)

var update = flag.Bool("update", false, "rewrite the golden diagnostics under testdata/specs")

// TestGoldenSpecs validates every case under testdata/specs and compares the
// diagnostics with the case's .golden file, Caddy-style: input and expected
// output side by side. Run `go test ./engine -run Golden -update` to rewrite
// them deliberately, then review the diff.
//
// valid/ cases must have no errors; invalid/ cases must have at least one,
// except warn-* cases, which must have warnings and no errors.
func TestGoldenSpecs(t *testing.T) {
	for _, group := range []string{"valid", "invalid"} {
		dir := filepath.Join("..", "testdata", "specs", group)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		cases := 0
		for _, e := range entries {
			name := e.Name()
			if ext := filepath.Ext(name); !e.IsDir() && ext != ".yml" && ext != ".yaml" {
				continue
			}
			cases++
			t.Run(group+"/"+name, func(t *testing.T) {
				_, diags := ValidatePath(filepath.Join(dir, name))
				got := render(diags, dir)
				golden := filepath.Join(dir, strings.TrimSuffix(strings.TrimSuffix(name, ".yml"), ".yaml")+".golden")
				if *update {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("no golden file (run with -update): %v", err)
				}
				if got != string(want) {
					t.Errorf("diagnostics differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
				}
				errs, warns := diags.Count()
				switch {
				case group == "valid" && errs > 0:
					t.Errorf("a valid connector has %d errors", errs)
				case group == "invalid" && strings.HasPrefix(name, "warn-") && (errs > 0 || warns == 0):
					t.Errorf("a warn- case must have warnings and no errors; got %d errors, %d warnings", errs, warns)
				case group == "invalid" && !strings.HasPrefix(name, "warn-") && errs == 0:
					t.Error("an invalid connector passed validation")
				}
			})
		}
		if min := map[string]int{"valid": 10, "invalid": 40}[group]; cases < min {
			t.Errorf("%s has %d cases, want at least %d", dir, cases, min)
		}
	}
}

// render prints diagnostics with file names relative to dir, so goldens do
// not depend on where the test runs.
func render(diags spec.Diagnostics, dir string) string {
	var b strings.Builder
	for _, d := range diags {
		if rel, err := filepath.Rel(dir, d.File); err == nil {
			d.File = filepath.ToSlash(rel)
		}
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}
