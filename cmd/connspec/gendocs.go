package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/connspec/connspec/internal/refdocs"
)

// newGenDocsCommand writes docs/reference from the code; it is hidden
// because only maintainers run it (refdocs.Command names it).
func newGenDocsCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "gendocs DIR",
		Short:  "Write the generated reference docs (auth types, formulas, JavaScript, CLI) into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		Example: `  # from the repository root, after changing a command, an auth type, a formula or a JS limit
  connspec gendocs docs/reference`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return usageErrorf("%v", err)
			}
			return refdocs.WriteDir(args[0], cmd.Root())
		},
	}
}
