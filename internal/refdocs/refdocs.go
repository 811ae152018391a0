// Package refdocs writes the reference pages in docs/reference from the code
// they describe: the auth-type registry (spec), the formulas (formulas), the
// JavaScript runtime and its limits (engine/jsrt) and the CLI's command tree.
// Examples in the pages are run while they are written, so a page cannot
// show a result the code does not give.
//
// Regenerate with `go run ./cmd/connspec gendocs docs/reference` (or
// `go generate ./internal/refdocs`); a test in cmd/connspec fails when the
// files in docs/reference differ from what the code generates.
package refdocs

//go:generate go run ../../cmd/connspec gendocs ../../docs/reference

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// Command regenerates the pages; every page's header names it.
const Command = "go run ./cmd/connspec gendocs docs/reference"

// page is one generated file.
type page struct {
	name  string
	title string
	write func(b *bytes.Buffer) error
}

// Render returns every page's content by file name. cli is the root of the
// connspec command tree.
func Render(cli *cobra.Command) (map[string][]byte, error) {
	pages := []page{
		{"auth-types.md", "Auth types and their methods", writeAuthTypes},
		{"formulas.md", "Formulas", writeFormulas},
		{"javascript.md", "JavaScript runtime", writeJavaScript},
		{"cli.md", "Command-line reference", func(b *bytes.Buffer) error { return writeCLI(b, cli) }},
	}
	out := map[string][]byte{}
	for _, p := range pages {
		var b bytes.Buffer
		fmt.Fprintf(&b, "<!-- Generated from the code by `%s`; DO NOT EDIT. -->\n\n# %s\n\n", Command, p.title)
		if err := p.write(&b); err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		out[p.name] = b.Bytes()
	}
	return out, nil
}

// WriteDir writes every page into dir, which must exist.
func WriteDir(dir string, cli *cobra.Command) error {
	pages, err := Render(cli)
	if err != nil {
		return err
	}
	for name, content := range pages {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return err
		}
	}
	return nil
}
