package docstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goBlock is one ```go block of a Markdown file.
type goBlock struct {
	file string // relative to the repository root
	line int    // of the opening fence
	code string
}

var goFence = regexp.MustCompile("(?ms)^```(?i:go|golang)[ \t]*\n(.*?)^```[ \t]*$")

// readGoBlocks returns every ```go block of README.md and docs/*.md.
func readGoBlocks(t *testing.T, root string) []goBlock {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []goBlock
	for _, path := range append([]string{filepath.Join(root, "README.md")}, docs...) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, path)
		for _, m := range goFence.FindAllSubmatchIndex(data, -1) {
			blocks = append(blocks, goBlock{
				file: rel,
				line: 1 + strings.Count(string(data[:m[0]]), "\n"),
				code: string(data[m[2]:m[3]]),
			})
		}
	}
	return blocks
}

// TestGoBlocksInDocsBuild type-checks and vets every Go block of the docs
// as a program of its own module that requires this one (through a replace
// directive, as a reader's program would), so a renamed function or a
// changed signature breaks CI instead of a reader's first try.
func TestGoBlocksInDocsBuild(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readGoBlocks(t, root)
	if len(blocks) == 0 {
		t.Fatal("no ```go blocks found in README.md and docs/*.md")
	}
	mod := t.TempDir()
	dirs := map[string]goBlock{}
	for i, b := range blocks {
		if !regexp.MustCompile(`(?m)^package \w+`).MatchString(b.code) {
			t.Errorf("%s:%d: a Go block must be a whole file (package clause, imports) so a reader can copy it and CI can build it", b.file, b.line)
			continue
		}
		dir := fmt.Sprintf("block%02d", i+1)
		dirs[dir] = b
		if err := os.MkdirAll(filepath.Join(mod, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mod, dir, "main.go"), []byte(b.code), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goMod := "module docstest.example\n\ngo 1.26\n\nrequire github.com/connspec/connspec v0.0.0\n\nreplace github.com/connspec/connspec => " + root + "\n"
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(goMod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	// go vet type-checks every block as the compiler does (unknown names,
	// wrong signatures, unused variables and imports are errors) and runs
	// the vet checks; go build would add only linking, some 15 s for three
	// programs.
	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = mod
	// The dependencies are this module's, already in the module cache:
	// nothing is downloaded.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go vet of the docs' Go blocks failed:\n%s", pointAtDocs(string(out), dirs))
	}
}

// pointAtDocs rewrites blockNN/main.go:L:C in go's output to the Markdown
// file and line the code is at.
func pointAtDocs(out string, dirs map[string]goBlock) string {
	return regexp.MustCompile(`(?:\./)?(block\d+)/main\.go:(\d+)`).ReplaceAllStringFunc(out, func(s string) string {
		m := regexp.MustCompile(`(block\d+)/main\.go:(\d+)`).FindStringSubmatch(s)
		b, ok := dirs[m[1]]
		if !ok {
			return s
		}
		var line int
		fmt.Sscan(m[2], &line)
		return fmt.Sprintf("%s:%d", b.file, b.line+line)
	})
}
