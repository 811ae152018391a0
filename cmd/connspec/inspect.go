package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/connspec/connspec/engine"
	"github.com/connspec/connspec/spec"
)

// inspection is the JSON form of `connspec inspect`.
type inspection struct {
	Key     string       `json:"key"`
	Name    string       `json:"name"`
	Layout  string       `json:"layout"`
	File    string       `json:"file"`
	Auth    authView     `json:"auth"`
	Options []authView   `json:"options"`
	Issues  []diagnostic `json:"diagnostics,omitempty"`
}

type authView struct {
	Key     string       `json:"key,omitempty"`
	Type    string       `json:"type"`
	Title   string       `json:"title,omitempty"`
	Methods []methodView `json:"methods"`
}

type methodView struct {
	Name               string `json:"name"`
	ImplementationType string `json:"implementationType"`
	Location           string `json:"location"`
	Inherited          bool   `json:"inherited,omitempty"`
}

type diagnostic = spec.Diagnostic

func newInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [--format text|json] PATH...",
		Short: "Show a connector's auth types, options and methods with their source locations",
		Args:  cobra.MinimumNArgs(1),
		Example: `  # auth types, options and methods of a connector folder
  connspec inspect ./connectors/github

  # as JSON, for tools
  connspec inspect --format json ./connectors/stripe`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			targets, err := resolveConnectorArgs(args)
			if err != nil {
				return err
			}
			var views []inspection
			var all spec.Diagnostics
			for _, target := range targets {
				cs, diags := target.validate()
				all = append(all, diags...)
				for _, c := range cs {
					views = append(views, inspect(c))
				}
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if views == nil {
					views = []inspection{}
				}
				err = enc.Encode(views)
			} else {
				err = writeInspections(out, views)
			}
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			for _, d := range all {
				fmt.Fprintln(cmd.ErrOrStderr(), d.String())
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

func inspect(c *engine.Connector) inspection {
	s := c.Spec
	v := inspection{Key: s.Key, Name: s.Name, Layout: s.Layout.String(), File: s.DisplayPath(s.SpecFile), Options: []authView{}}
	v.Auth = authViewOf(s, s.Auth)
	for _, k := range s.Auth.OptionKeys {
		v.Options = append(v.Options, authViewOf(s, s.Auth.Options[k]))
	}
	return v
}

func authViewOf(c *spec.Connector, a *spec.Auth) authView {
	v := authView{Key: a.Key, Type: a.TypeName, Title: a.Title, Methods: []methodView{}}
	names := make([]string, 0, len(a.Methods))
	for n := range a.Methods {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		m := a.Methods[n]
		// Where the body is: the method's file, or the inline body in the spec.
		loc := m.Body
		loc.File = c.DisplayPath(loc.File)
		if loc.Line == 0 {
			loc.Line, loc.Column = 1, 1
		}
		v.Methods = append(v.Methods, methodView{Name: n, ImplementationType: m.ImplementationType, Location: loc.String(), Inherited: m.Inherited})
	}
	return v
}

func writeInspections(w io.Writer, views []inspection) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, v := range views {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "key:\t%s\n", v.Key)
		fmt.Fprintf(tw, "name:\t%s\n", v.Name)
		fmt.Fprintf(tw, "file:\t%s (%s layout)\n", v.File, v.Layout)
		writeAuth(tw, "auth", v.Auth)
		if len(v.Options) > 0 {
			keys := make([]string, len(v.Options))
			for i, o := range v.Options {
				keys[i] = o.Key
			}
			fmt.Fprintf(tw, "options:\t%s\n", strings.Join(keys, ", "))
			for _, o := range v.Options {
				writeAuth(tw, "option "+o.Key, o)
			}
		}
	}
	return tw.Flush()
}

func writeAuth(w io.Writer, label string, a authView) {
	title := ""
	if a.Title != "" {
		title = fmt.Sprintf(" (%s)", a.Title)
	}
	typ := a.Type
	if typ == "" {
		typ = "(no type: shared by the options)"
	}
	fmt.Fprintf(w, "%s:\t%s%s\n", label, typ, title)
	for _, m := range a.Methods {
		inherited := ""
		if m.Inherited {
			inherited = "\tinherited"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s%s\n", m.Name, m.ImplementationType, m.Location, inherited)
	}
}
