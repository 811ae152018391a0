package main

import (
	"github.com/spf13/cobra"

	"github.com/connspec/connspec/schemas"
)

func newSchemaCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the connector JSON Schema (for editors and yaml-language-server)",
		Args:  cobra.NoArgs,
		Example: `  # save the schema and point yaml-language-server at it from a spec.yml:
  #   # yaml-language-server: $schema=./connector.schema.json
  connspec schema > connector.schema.json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(schemas.Connector)
			return err
		},
	}
}
