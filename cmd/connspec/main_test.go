package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/connspec/connspec/schemas"
)

var specs = filepath.Join("..", "..", "testdata", "specs")

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidateValidLibraryExitsZero(t *testing.T) {
	code, out, errOut := runCLI(t, "validate", filepath.Join(specs, "valid"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !regexp.MustCompile(`(?m)^[1-9][0-9] valid connectors; 0 errors, \d+ warnings$`).MatchString(out) {
		t.Errorf("summary line missing:\n%s", out)
	}
}

func TestValidateReportsEveryProblemWithPosition(t *testing.T) {
	code, out, _ := runCLI(t, "validate", filepath.Join(specs, "invalid", "multi-formula-errors.yml"))
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	line := regexp.MustCompile(`(?m)^\S+multi-formula-errors\.yml:\d+:\d+: error: .+$`)
	if n := len(line.FindAllString(out, -1)); n < 3 {
		t.Errorf("want at least 3 positioned errors, got %d:\n%s", n, out)
	}
}

func TestValidateJSON(t *testing.T) {
	code, out, _ := runCLI(t, "validate", "--format", "json", filepath.Join(specs, "invalid", "auth-type-unknown.yml"))
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var diags []map[string]any
	if err := json.Unmarshal([]byte(out), &diags); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(diags) != 1 {
		t.Fatalf("diagnostics = %v", diags)
	}
	d := diags[0]
	for _, k := range []string{"file", "line", "column", "severity", "path", "message"} {
		if _, ok := d[k]; !ok {
			t.Errorf("field %q missing in %v", k, d)
		}
	}
	if d["severity"] != "error" || d["path"] != "/auth/type" || d["line"] != float64(5) || d["column"] != float64(9) {
		t.Errorf("diagnostic = %v", d)
	}

	code, out, _ = runCLI(t, "validate", "--format", "json", filepath.Join(specs, "valid", "stripe.yml"))
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("clean connector: exit %d, output %q", code, out)
	}
}

func TestValidateWarningsDoNotFail(t *testing.T) {
	code, out, _ := runCLI(t, "validate", filepath.Join(specs, "invalid", "warn-misspelled-variable.yml"))
	if code != 0 || !strings.Contains(out, ": warning: ") || !strings.Contains(out, "did you mean credentials?") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"validate"},
		{"validate", "does/not/exist"},
		{"validate", "--format", "xml", filepath.Join(specs, "valid")},
		{"nosuchcommand"},
		{"inspect", "--bogus", filepath.Join(specs, "valid", "stripe.yml")},
	} {
		if code, out, errOut := runCLI(t, args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d (want 2)\n%s%s", args, code, out, errOut)
		}
	}
}

func TestSchemaPrintsTheConnectorSchema(t *testing.T) {
	code, out, _ := runCLI(t, "schema")
	if code != 0 || out != string(schemas.Connector) {
		t.Fatalf("exit %d", code)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil || v["$id"] != schemas.ConnectorID {
		t.Errorf("schema output is not the connector schema: %v", err)
	}
}

func TestInspectShowsOptionsAndMethodLocations(t *testing.T) {
	code, out, errOut := runCLI(t, "inspect", filepath.Join(specs, "valid", "jira"))
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"key:", "jira", "options:", "option oauth", "getOAuthConfig", "mapping", filepath.Join("jira", "auth", "test.js"), "inherited"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "inspect", "--format", "json", filepath.Join(specs, "valid", "github"))
	var views []inspection
	if err := json.Unmarshal([]byte(out), &views); err != nil || code != 0 || len(views) != 1 {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	v := views[0]
	if v.Key != "github" || v.Auth.Type != "oauth2" || len(v.Auth.Methods) < 3 {
		t.Errorf("inspection = %+v", v)
	}
	for _, m := range v.Auth.Methods {
		if !regexp.MustCompile(`:\d+:\d+$|\.(js|ts|expr|yml)$`).MatchString(m.Location) {
			t.Errorf("method %s location %q", m.Name, m.Location)
		}
	}
}

func TestInspectBrokenConnectorExitsOne(t *testing.T) {
	code, _, errOut := runCLI(t, "inspect", filepath.Join(specs, "invalid", "missing-name.yml"))
	if code != 1 || !strings.Contains(errOut, "has no name") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}

func TestListShowsTheBundledLibrary(t *testing.T) {
	code, out, _ := runCLI(t, "list", "--format", "json")
	var items []listing
	if code != 0 || json.Unmarshal([]byte(out), &items) != nil || len(items) < 30 {
		t.Fatalf("exit %d, %d connectors", code, len(items))
	}
	types := map[string]bool{}
	for _, it := range items {
		for _, o := range it.Options {
			types[o.Type] = true
		}
	}
	for _, want := range []string{"oauth2", "oauth1", "client-credentials", "proxy"} {
		if !types[want] {
			t.Errorf("no bundled connector of type %s", want)
		}
	}
	if code, _, _ := runCLI(t, "list", "--format", "yaml"); code != 2 {
		t.Errorf("bad format: exit %d", code)
	}
}

func TestCheckCommand(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "check")
	code, out, _ := runCLI(t, "check", filepath.Join(dir, "github-ok"))
	if code != 0 || !strings.Contains(out, "ok    github: OAuth app") {
		t.Errorf("passing fixture: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "check", filepath.Join(dir, "stripe-mismatch"))
	if code != 1 || !strings.Contains(out, "FAIL  stripe: secret key") || !strings.Contains(out, "fixtures.yml:5: unexpected request") {
		t.Errorf("failing fixture: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "check", filepath.Join(specs, "valid", "github"))
	if code != 1 || !strings.Contains(out, "no fixtures.yml") {
		t.Errorf("connector without fixtures: exit %d\n%s", code, out)
	}
}
