// Command connspec validates, inspects and (in later releases) runs
// connector specs.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK       = 0
	exitProblems = 1 // the connector has errors
	exitUsage    = 2 // bad flags, unreadable paths
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI with args and returns the exit code; tests call it
// directly.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "connspec:", ee.err)
		}
		return ee.code
	}
	// Cobra's own errors: unknown command or flag, wrong argument count.
	fmt.Fprintln(stderr, "connspec:", err)
	return exitUsage
}

// rootExample is the Example of `connspec --help`: the first steps.
const rootExample = `  # check the bundled connectors and your own
  connspec validate ./connectors ./my-connector

  # call an API through a bundled connector with an API key
  connspec request stripe GET /v1/customers --input apiKey=sk_test_123

  # run the connect page, the admin API and the auth proxy locally
  connspec serve --insecure-no-key`

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "connspec",
		Short:         "Declarative connector specs: validate, inspect and run API connectors",
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       versionLine(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newVersionCommand(), newValidateCommand(), newSchemaCommand(), newInspectCommand(), newTestCommand(), newRequestCommand(), newConnectCommand(), newCheckCommand(), newListCommand(), newServeCommand(), newRekeyCommand(), newKeysCommand())
	root.Example = rootExample
	root.AddCommand(newGenDocsCommand())
	return root
}

// checkFormat rejects an unknown --format value.
func checkFormat(format string) error {
	if format != "text" && format != "json" {
		return usageErrorf("--format must be text or json, not %q", format)
	}
	return nil
}

// checkPaths turns a missing path into a usage error before any work.
func checkPaths(paths []string) error {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return usageErrorf("%s: no such file or directory", p)
			}
			return usageErrorf("%s: %v", p, errors.Unwrap(err))
		}
	}
	return nil
}
