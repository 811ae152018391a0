package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// buildInfo is what `connspec version` reports; tests replace it.
var buildInfo = debug.ReadBuildInfo

// newVersionCommand is `connspec version`; the root's --version prints the
// same line.
func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the module version and the VCS revision connspec was built from",
		Example: `  connspec version
  connspec --version`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), versionLine())
			return nil
		},
	}
}

// versionLine describes this binary from its build information, e.g.
// "connspec v0.1.0 (revision 1a2b3c4d5e6f, 2026-12-03T16:00:00Z, modified) go1.26.0".
// A build without VCS stamping (go run, -buildvcs=false) says "unknown revision"
// instead of leaving the field out, so nobody mistakes it for a clean release.
func versionLine() string {
	info, ok := buildInfo()
	if !ok || info == nil {
		return "connspec (devel) (unknown revision) (no build information)"
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	var vcs []string
	if rev := settings["vcs.revision"]; rev != "" {
		vcs = append(vcs, "revision "+shortRevision(rev))
	} else {
		vcs = append(vcs, "unknown revision")
	}
	if t := settings["vcs.time"]; t != "" {
		vcs = append(vcs, t)
	}
	if settings["vcs.modified"] == "true" {
		vcs = append(vcs, "modified")
	}
	return fmt.Sprintf("connspec %s (%s) %s", version, strings.Join(vcs, ", "), info.GoVersion)
}

// shortRevision keeps the first 12 characters of a commit hash, as `go
// version -m` users expect to paste into `git show`.
func shortRevision(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
