package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/connspec/connspec/check"
)

func newCheckCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check PATH...",
		Short: "Replay each connector's fixtures.yml against a mock of the provider (offline)",
		Long: `Check runs every fixture of the connectors under PATH with the real engine,
sending every request (token endpoint and API) to an in-process mock of the
provider instead of the network; the connector files are used unchanged.
Each mismatch is reported at the fixture's FILE:LINE. See docs/fixtures.md.

Exit status: 0 when every fixture passes, 1 when one fails or a connector
has errors or no fixtures, 2 for usage errors.`,
		Args: cobra.MinimumNArgs(1),
		Example: `  # replay the fixtures of every bundled connector
  connspec check ./connectors

  # one connector while you write it
  connspec check ./my-connector`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkPaths(args); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			failed, passed, connectors := 0, 0, 0
			for _, p := range args {
				results, diags := check.Path(cmd.Context(), p)
				for _, d := range diags {
					fmt.Fprintln(out, d.String())
					failed++
				}
				for _, cr := range results {
					connectors++
					switch {
					case len(cr.Diagnostics) > 0:
						failed++
						fmt.Fprintf(out, "FAIL  %s: the connector has errors\n", cr.Path)
						for _, d := range cr.Diagnostics {
							fmt.Fprintln(out, "      "+d.String())
						}
						continue
					case cr.Missing:
						failed++
						fmt.Fprintf(out, "FAIL  %s: no %s\n", cr.Path, check.FileName)
						continue
					}
					for _, r := range cr.Results {
						if r.OK() {
							passed++
							fmt.Fprintf(out, "ok    %s: %s\n", cr.Key, r.Fixture.Name)
							continue
						}
						failed++
						fmt.Fprintf(out, "FAIL  %s: %s\n", cr.Key, r.Fixture.Name)
						for _, p := range r.Problems {
							fmt.Fprintln(out, "      "+p)
						}
					}
				}
			}
			fmt.Fprintf(out, "%d %s: %d fixtures passed, %d failed\n", connectors, plural(connectors, "connector", "connectors"), passed, failed)
			if failed > 0 {
				return &exitError{code: exitProblems}
			}
			return nil
		},
	}
}
