package refdocs

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Commands returns cli and every command below it that a user sees (not
// hidden ones, not cobra's help and completion), depth first in name order.
func Commands(cli *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{cli}
	for _, c := range cli.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		out = append(out, Commands(c)...)
	}
	return out
}

func writeCLI(b *bytes.Buffer, cli *cobra.Command) error {
	cmds := Commands(cli)
	b.WriteString("Every command and flag of `" + cli.Name() + "`, as its `--help` shows them. Install with\n" +
		"`go install github.com/connspec/connspec/cmd/connspec@latest`, or run from a clone with `go run ./cmd/connspec`.\n\n")
	for _, c := range cmds {
		fmt.Fprintf(b, "- [`%s`](#%s): %s\n", c.CommandPath(), anchor(c.CommandPath()), c.Short)
	}
	for _, c := range cmds {
		if c.Example == "" {
			return fmt.Errorf("command %q has no Example: every command's --help shows one", c.CommandPath())
		}
		writeCommand(b, c)
	}
	return nil
}

func writeCommand(b *bytes.Buffer, c *cobra.Command) {
	use := c.UseLine()
	if c.HasAvailableSubCommands() {
		use += " [command]"
	}
	fmt.Fprintf(b, "\n## %s\n\n%s\n\n```\n%s\n```\n", c.CommandPath(), c.Short, use)
	if c.Long != "" {
		fmt.Fprintf(b, "\n%s\n", c.Long)
	}
	var flags []*pflag.Flag
	c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && !f.Hidden {
			flags = append(flags, f)
		}
	})
	if len(flags) > 0 {
		b.WriteString("\n| Flag | Default | Meaning |\n|---|---|---|\n")
		for _, f := range flags {
			fmt.Fprintf(b, "| %s | %s | %s |\n", flagName(f), flagDefault(f), cell(usage(f)))
		}
	}
	fmt.Fprintf(b, "\nExamples:\n\n```sh\n%s\n```\n", dedent(c.Example))
}

// dedent removes the indentation all non-blank lines of s share (cobra's
// Examples are indented for --help) and trailing blank lines.
func dedent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	common := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		if common < 0 || n < common {
			common = n
		}
	}
	for i, l := range lines {
		if len(l) >= common && common > 0 {
			lines[i] = l[common:]
		}
	}
	return strings.Join(lines, "\n")
}

// flagName formats a flag as `-H, --header string`.
func flagName(f *pflag.Flag) string {
	name := "--" + f.Name
	if f.Shorthand != "" {
		name = "-" + f.Shorthand + ", " + name
	}
	if arg, _ := pflag.UnquoteUsage(f); arg != "" {
		name += " " + arg
	}
	return "`" + name + "`"
}

func usage(f *pflag.Flag) string {
	_, u := pflag.UnquoteUsage(f)
	return u
}

func flagDefault(f *pflag.Flag) string {
	switch f.DefValue {
	case "", "[]", "false", "0":
		return "—"
	}
	return "`" + f.DefValue + "`"
}

// anchor is the GitHub anchor of a heading.
func anchor(heading string) string {
	return strings.ReplaceAll(strings.ToLower(heading), " ", "-")
}
