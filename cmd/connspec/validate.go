package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/connspec/connspec/spec"
)

func newValidateCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "validate [--format text|json] PATH...",
		Short: "Check connectors and report every problem at its file:line:col",
		Long: `Validate loads and compiles connectors without running them.

PATH is a connector file, a connector directory (with spec.yml), a
directory of connectors, searched recursively, or the key of a bundled
connector (see connspec list); a path on disk wins over a key. Every problem is printed as
FILE:LINE:COL: error|warning: MESSAGE.

Exit status: 0 when there are no errors (warnings allowed), 1 when any
connector has an error, 2 for usage or I/O errors.`,
		Args: cobra.MinimumNArgs(1),
		Example: `  # every bundled connector, and one of your own
  connspec validate ./connectors ./my-connector

  # a bundled connector by key, as JSON for tools
  connspec validate --format json ./connectors/stripe`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			targets, err := resolveConnectorArgs(args)
			if err != nil {
				return err
			}
			var all spec.Diagnostics
			connectors := 0
			for _, target := range targets {
				cs, diags := target.validate()
				connectors += len(cs)
				all = append(all, diags...)
			}
			if err := writeDiagnostics(cmd.OutOrStdout(), format, all, connectors); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if all.HasErrors() {
				return &exitError{code: exitProblems}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func writeDiagnostics(w io.Writer, format string, diags spec.Diagnostics, valid int) error {
	if format == "json" {
		if diags == nil {
			diags = spec.Diagnostics{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(diags)
	}
	for _, d := range diags {
		if _, err := fmt.Fprintln(w, d.String()); err != nil {
			return err
		}
	}
	errs, warns := diags.Count()
	_, err := fmt.Fprintf(w, "%d valid %s; %d %s, %d %s\n", valid, plural(valid, "connector", "connectors"),
		errs, plural(errs, "error", "errors"), warns, plural(warns, "warning", "warnings"))
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
