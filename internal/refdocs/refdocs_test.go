package refdocs

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/connspec/connspec/engine/jsrt"
	"github.com/connspec/connspec/formulas"
	"github.com/connspec/connspec/spec"
)

// withExample returns the page's examples with the one for name replaced
// (or, when mapping is empty, left out).
func withExample(name, mapping string) []formulaExample {
	var out []formulaExample
	for _, ex := range formulaExamples {
		if ex.name == name {
			if mapping == "" {
				continue
			}
			ex.mapping = mapping
		}
		out = append(out, ex)
	}
	return out
}

// TestFormulasPageRefusesWrongExamples: the page is not written when an
// example could mislead, so a wrong example cannot ship.
func TestFormulasPageRefusesWrongExamples(t *testing.T) {
	tests := []struct {
		name     string
		examples []formulaExample
		want     string
	}{
		{"missing formula", withExample("$var", ""), "formula $var has no example"},
		{"unknown formula", append(slices.Clone(formulaExamples), formulaExample{"$nope", "x", `{$nope: 1}`}), "$nope: the formulas package does not compile"},
		{"twice", append(slices.Clone(formulaExamples), formulaExamples[0]), "two examples for $var"},
		{"does not use its formula", withExample("$concat", `{$var: credentials.access_token}`), "does not use it"},
		{"compile error", withExample("$case", `{$case: {cases: 5}}`), "example for $case does not compile cleanly"},
		{"compile warning", withExample("$var", `{$var: credentials.access_token, $other: 1}`), "example for $var does not compile cleanly"},
		{"evaluation error", withExample("$template", `{$template: "Bearer ${credentials.nothing}"}`), "example for $template"},
		{"undefined result", withExample("$var", `{$var: credentials.nothing}`), "gives undefined"},
		{"bad YAML", withExample("$var", `{$var: [}`), "example for $var"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			err := renderFormulas(&b, tt.examples)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestFormulasPageShowsComputedResults: the result printed under an example
// is what the formulas package gives, not text written next to it.
func TestFormulasPageShowsComputedResults(t *testing.T) {
	var b bytes.Buffer
	if err := renderFormulas(&b, withExample("$concat", `{$concat: [{$var: connectionParameters.subdomain}, "-", {$var: connectionParameters.accountId}]}`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "```json\n\"acme-42\"\n```") {
		t.Errorf("the $concat result is not on the page:\n%s", b.String())
	}
	for name, why := range formulas.UnsupportedFormulas() {
		if !strings.Contains(b.String(), "| `"+name+"` | formula "+name+" is not supported: "+why+" |") {
			t.Errorf("refused formula %s is not listed with its error", name)
		}
	}
}

// TestAuthTypesPageListsTheRegistry: every registered type, alias and
// method rule appears, including one registered after the built-in ones.
func TestAuthTypesPageListsTheRegistry(t *testing.T) {
	spec.RegisterAuthType(spec.AuthType{
		Name: "zz-test-sigv4", Aliases: []string{"zz-test-aws"}, Title: "Test type",
		Methods: map[string]spec.MethodRule{
			spec.MethodMakeAPIClient: {Required: true, Implementations: []string{spec.ImplJavaScript}, Inputs: []string{"credentials", "region"}, WhyRequired: "the test says so"},
		},
	})
	var b bytes.Buffer
	if err := writeAuthTypes(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, name := range spec.AuthTypeNames() {
		if !strings.Contains(page, "`"+name+"`") {
			t.Errorf("auth type or alias %s is missing", name)
		}
	}
	for _, want := range []string{
		"## zz-test-sigv4",
		"| `makeApiClient` | yes | `javascript` | `credentials`, `region` | no |",
		"`makeApiClient` is required because the test says so.",
		"| `getCredentialsFromAccessTokenResponse` (alias `getCredentialsFromTokenResponse`) |",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Count(page, "## integration-app-token") != 1 || strings.Contains(page, "## membrane-token") {
		t.Errorf("an alias got its own section")
	}
}

// TestJavaScriptPageShowsTheRuntimeLimits: the numbers are the runtime's.
func TestJavaScriptPageShowsTheRuntimeLimits(t *testing.T) {
	var b bytes.Buffer
	if err := writeJavaScript(&b); err != nil {
		t.Fatal(err)
	}
	o := jsrt.DefaultOptions()
	for _, want := range []string{
		"| Time per call | `" + o.Timeout.String() + "` |",
		"| Call stack | " + count(int64(o.MaxCallStackSize)) + " frames |",
		"| String and buffer output | " + size(int64(o.MaxStringLength)) + " |",
		"| Array length | " + count(int64(o.MaxArrayLength)) + " elements |",
		"| Heap growth | " + size(o.MaxHeapGrowth) + " |",
		"| Imported files | " + fmt.Sprint(jsrt.MaxImportFiles) + " files |",
		"`ConnectionError`", "`fetch`", "`btoa`", "`create`", // from the running sandbox
		"Removed from the built-ins: `BigInt`",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if got := size(16 << 20); got != "16 MiB (16,777,216 bytes)" {
		t.Errorf("size(16 MiB) = %q", got)
	}
	if got := size(1000); got != "1,000 bytes" {
		t.Errorf("size(1000) = %q", got)
	}
}

// TestCLIPageRefusesCommandWithoutExample names the command.
func TestCLIPageRefusesCommandWithoutExample(t *testing.T) {
	root := &cobra.Command{Use: "tool", Short: "root", Example: "tool sub"}
	sub := &cobra.Command{Use: "sub", Short: "sub", Run: func(*cobra.Command, []string) {}}
	root.AddCommand(sub)
	var b bytes.Buffer
	if err := writeCLI(&b, root); err == nil || !strings.Contains(err.Error(), `"tool sub" has no Example`) {
		t.Fatalf("got %v", err)
	}
	sub.Example = "  tool sub --n 2\n"
	sub.Flags().Int("n", 1, "how `many`")
	b.Reset()
	if err := writeCLI(&b, root); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| `--n many` | `1` | how many |", "```sh\ntool sub --n 2\n```"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("page lacks %q:\n%s", want, b.String())
		}
	}
}
