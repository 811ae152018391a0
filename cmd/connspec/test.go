package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newTestCommand() *cobra.Command {
	var f connectFlags
	cmd := &cobra.Command{
		Use:   "test PATH [flags]",
		Short: "Connect with the given input and run the connector's auth test",
		Long: `Test builds an authenticated client for one connection and runs the
connector's test method. PATH is a connector file or folder, or the key of a
bundled connector. Prints "ok" or why the test failed.

Exit status: 0 pass, 1 fail (including invalid input or credentials), 2 usage.`,
		Args: cobra.ExactArgs(1),
		Example: `  # run the Stripe connector's test with an API key
  connspec test stripe --input apiKey=sk_test_123

  # the same against a local stand-in of the API, printing each request
  connspec test stripe --input apiKey=sk_test_123 --connect-to api.stripe.com=http://127.0.0.1:8080 --verbose

  # a connection whose credentials are kept (and rewritten on refresh) in a file
  connspec test ./my-connector --params-file params.json --credentials creds.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.connect(cmd.Context(), args[0], cmd.ErrOrStderr())
			defer f.close()
			if err != nil {
				return err
			}
			if err := cl.Test(cmd.Context()); err != nil {
				fmt.Fprintln(cmd.OutOrStdout(), "failed:", cl.Redact(err.Error()))
				return &exitError{code: exitProblems}
			}
			if !cl.HasTest() {
				fmt.Fprintln(cmd.OutOrStdout(), "ok (the connector has no test method; the client was built)")
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
