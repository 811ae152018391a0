package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// withBuildInfo makes the CLI see info as its build information for one test.
func withBuildInfo(t *testing.T, info *debug.BuildInfo, ok bool) {
	t.Helper()
	old := buildInfo
	buildInfo = func() (*debug.BuildInfo, bool) { return info, ok }
	t.Cleanup(func() { buildInfo = old })
}

func TestVersionReportsModuleVersionAndRevision(t *testing.T) {
	cases := []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{
			name: "go install of a release",
			info: &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.1.0"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
				{Key: "vcs.time", Value: "2026-12-03T16:00:00Z"},
				{Key: "vcs.modified", Value: "false"},
			}},
			ok:   true,
			want: "connspec v0.1.0 (revision 0123456789ab, 2026-12-03T16:00:00Z) go1.26.0",
		},
		{
			name: "build from a checkout with local changes",
			info: &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "fedcba9876543210fedcba9876543210fedcba98"},
				{Key: "vcs.time", Value: "2026-12-01T09:30:00Z"},
				{Key: "vcs.modified", Value: "true"},
			}},
			ok:   true,
			want: "connspec (devel) (revision fedcba987654, 2026-12-01T09:30:00Z, modified) go1.26.0",
		},
		{
			name: "-buildvcs=false: no VCS settings",
			info: &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}},
			ok:   true,
			want: "connspec (devel) (unknown revision) go1.26.0",
		},
		{
			name: "empty main version",
			info: &debug.BuildInfo{GoVersion: "go1.26.0"},
			ok:   true,
			want: "connspec (devel) (unknown revision) go1.26.0",
		},
		{
			name: "no build information at all",
			ok:   false,
			want: "connspec (devel) (unknown revision) (no build information)",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			withBuildInfo(t, c.info, c.ok)
			for _, args := range [][]string{{"version"}, {"--version"}} {
				code, out, errOut := runCLI(t, args...)
				if code != 0 || errOut != "" {
					t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
				}
				if out != c.want+"\n" {
					t.Errorf("%v printed %q, want %q", args, out, c.want)
				}
			}
		})
	}
}

// The test binary is built like `go run` or CI's -buildvcs=false: whatever
// it holds, the line names a version and a revision (or says it has none).
func TestVersionOfThisBuild(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.HasPrefix(out, "connspec ") || !strings.Contains(out, "revision") {
		t.Errorf("version line = %q", out)
	}
}

func TestVersionRefusesArguments(t *testing.T) {
	code, _, errOut := runCLI(t, "version", "extra")
	if code != exitUsage || !strings.Contains(errOut, "extra") {
		t.Errorf("exit %d, stderr %q; want a usage error naming the argument", code, errOut)
	}
}
