package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// validate and inspect take a bundled connector's key wherever they take a
// PATH, as test and request do: one key, several, and keys mixed with paths.
func TestValidateAndInspectAcceptBundledKeys(t *testing.T) {
	for _, keys := range [][]string{
		{"stripe"},
		{"github", "google-sheets", "twitter"}, // oauth2, proxy, oauth1
		{"jira", filepath.Join(specs, "valid", "stripe.yml")},
	} {
		code, out, errOut := runCLI(t, append([]string{"validate"}, keys...)...)
		want := len(keys)
		if code != 0 || !strings.Contains(out, "valid connector") || !strings.HasPrefix(lastLine(out), strconv.Itoa(want)+" valid") {
			t.Errorf("validate %v: exit %d\n%s%s", keys, code, out, errOut)
		}

		code, out, errOut = runCLI(t, append([]string{"inspect", "--format", "json"}, keys...)...)
		var views []inspection
		if err := json.Unmarshal([]byte(out), &views); err != nil || code != 0 || len(views) != want {
			t.Fatalf("inspect %v: exit %d, %v\n%s%s", keys, code, err, out, errOut)
		}
		if views[0].Key != keys[0] || len(views[0].Auth.Methods) == 0 && len(views[0].Options) == 0 {
			t.Errorf("inspect %v: first view = %+v", keys, views[0])
		}
	}
}

// A name that is neither on disk nor bundled is the same usage error in
// every command that takes a connector, naming the argument.
func TestEveryConnectorCommandRefusesAnUnknownName(t *testing.T) {
	for _, cmd := range [][]string{
		{"validate"},
		{"inspect"},
		{"test"},
		{"request", "--", "GET", "/"},
	} {
		args := append([]string{cmd[0], "no-such-connector"}, cmd[1:]...)
		code, out, errOut := runCLI(t, args...)
		if code != exitUsage || !strings.Contains(errOut, "no-such-connector: no such file, directory or bundled connector") || out != "" {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %q", args, code, out, errOut)
		}
	}
	// One bad name among good ones: refused before any output.
	code, out, errOut := runCLI(t, "validate", "stripe", "strpie")
	if code != exitUsage || out != "" || !strings.Contains(errOut, "strpie") {
		t.Errorf("validate stripe strpie: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

// A connector on disk wins over a bundled one of the same name, so a local
// copy being edited is what gets validated, never silently the bundled one.
func TestAPathOnDiskShadowsABundledKey(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stripe"), []byte("key: stripe\nauth: {type: client-credentials}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, cmd := range []string{"validate", "inspect"} {
		code, out, errOut := runCLI(t, cmd, "stripe")
		if code != exitProblems || !strings.Contains(out+errOut, "stripe:") || !strings.Contains(out+errOut, "name") {
			t.Errorf("%s stripe with a local file named stripe: exit %d\n%s%s", cmd, code, out, errOut)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
