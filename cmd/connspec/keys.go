package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/server"
)

// keysStoreFlags are the store flags every keys subcommand shares with serve.
type keysStoreFlags struct{ db, keyFile string }

func (f *keysStoreFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.db, "db", "", "store: sqlite:`PATH` or postgres://... (default: sqlite in the user's config directory, as serve)")
	cmd.Flags().StringVar(&f.keyFile, "key-file", "", "secret key `file` when CONNSPEC_SECRET_KEY is unset (opens the store as serve does)")
}

// open opens the store serve would use with the same flags.
func (f *keysStoreFlags) open(ctx context.Context) (server.Store, func(), error) {
	dir := configDir()
	cipher, err := loadCipher(f.keyFile, dir)
	if err != nil {
		return nil, nil, err
	}
	return openStore(ctx, f.db, dir, cipher)
}

func newKeysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Make, list and revoke the API keys of serve",
		Long: `keys manages the stored API keys of connspec serve, in the store serve uses
(the same --db, CONNSPEC_SECRET_KEY or --key-file). A key has scopes: admin
(everything), connect (connect sessions and reading connectors) and proxy (the
auth proxy); connect and proxy keys may be limited to one account and/or
connector. Only a key's SHA-256 is stored: create prints the key once.
CONNSPEC_API_KEY keeps working as an admin key. See docs/serve.md.`,
		Args: cobra.NoArgs,
		Example: `  connspec keys create --name billing --scope proxy --account user-42
  connspec keys list --db postgres://connspec@db/connspec
  connspec keys revoke 3f9c0a1b2c3d4e5f60718293`,
	}
	cmd.AddCommand(newKeysCreateCommand(), newKeysListCommand(), newKeysRevokeCommand())
	return cmd
}

func newKeysCreateCommand() *cobra.Command {
	var f keysStoreFlags
	var name, account, connector string
	var scopes []string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Make an API key and print it once",
		Long: `create makes an API key and prints it on standard output, alone on its line,
once: only its SHA-256 is stored, so it cannot be shown again. Its id and
scopes go to standard error.`,
		Args: cobra.NoArgs,
		Example: `  # a key for the billing service: the proxy, for user-42's connections only
  connspec keys create --name billing --scope proxy --account user-42

  # a key for the web app, which makes connect links for any account
  connspec keys create --name web-app --scope connect --db postgres://connspec@db/connspec`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, rec, err := server.NewAPIKey(name, scopes, account, connector)
			if err != nil {
				return usageErrorf("%v", err)
			}
			st, closeStore, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			if err := st.PutAPIKey(cmd.Context(), rec); err != nil {
				return fmt.Errorf("the key could not be stored: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), key)
			fmt.Fprintf(cmd.ErrOrStderr(), "made API key %s (%s)%s: it is shown once, keep it now\n", rec.ID, strings.Join(rec.Scopes, ","), limitText(rec))
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "what the key is for (required)")
	cmd.Flags().StringSliceVar(&scopes, "scope", nil, "admin, connect or proxy (repeat or comma-separate; admin stands alone)")
	cmd.Flags().StringVar(&account, "account", "", "limit a connect/proxy key to this account")
	cmd.Flags().StringVar(&connector, "connector", "", "limit a connect/proxy key to this connector")
	f.add(cmd)
	return cmd
}

func limitText(k store.APIKey) string {
	var parts []string
	if k.Account != "" {
		parts = append(parts, "account "+k.Account)
	}
	if k.Connector != "" {
		parts = append(parts, "connector "+k.Connector)
	}
	if len(parts) == 0 {
		return ""
	}
	return ", limited to " + strings.Join(parts, " and ")
}

func newKeysListCommand() *cobra.Command {
	var f keysStoreFlags
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the API keys (never the keys themselves)",
		Args:  cobra.NoArgs,
		Example: `  connspec keys list
  connspec keys list --format json --db postgres://connspec@db/connspec`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			st, closeStore, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			keys, err := st.ListAPIKeys(cmd.Context())
			if err != nil {
				return fmt.Errorf("the keys could not be read: %w", err)
			}
			return printKeys(cmd.OutOrStdout(), keys, format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	f.add(cmd)
	return cmd
}

func printKeys(out io.Writer, keys []store.APIKey, format string) error {
	if format == "json" {
		list := make([]server.APIKeyView, 0, len(keys))
		for _, k := range keys {
			list = append(list, server.ViewAPIKey(k))
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	if len(keys) == 0 {
		fmt.Fprintln(out, "no API keys (CONNSPEC_API_KEY is not stored and not listed)")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tACCOUNT\tCONNECTOR\tCREATED\tLAST USED\tREVOKED")
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%q\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","), dash(k.Account), dash(k.Connector),
			when(k.CreatedAt), when(k.LastUsedAt), when(k.RevokedAt))
	}
	return tw.Flush()
}

func newKeysRevokeCommand() *cobra.Command {
	var f keysStoreFlags
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key: every serve instance refuses it within 2 seconds",
		Args:  cobra.ExactArgs(1),
		Example: `  # the id is the first column of connspec keys list
  connspec keys revoke 3f9c0a1b2c3d4e5f60718293`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.HasPrefix(args[0], server.KeyPrefix) {
				// Not echoed: it is a key, a secret.
				return usageErrorf("that is an API key, not a key's id: give the id (connspec keys list)")
			}
			st, closeStore, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			err = st.RevokeAPIKey(cmd.Context(), args[0], time.Now())
			if errors.Is(err, store.ErrNotFound) {
				// The argument is not echoed: it may be a secret pasted by mistake.
				return usageErrorf("no API key with this id (see connspec keys list)")
			}
			if err != nil {
				return fmt.Errorf("the key could not be revoked: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked API key %s\n", args[0])
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

// activeAPIKeys counts the keys of st that are not revoked.
func activeAPIKeys(ctx context.Context, st server.Store) (int, error) {
	keys, err := st.ListAPIKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the API keys: %w", err)
	}
	n := 0
	for _, k := range keys {
		if k.RevokedAt.IsZero() {
			n++
		}
	}
	return n, nil
}
