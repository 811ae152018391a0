package formulas

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// $template as integration.app's client-credentials page writes it:
// https://console.integration.app/docs/connector-builder/authentication/types/client-credentials,
// "API Client Configuration": Authorization: {$template: "Bearer ${credentials.apiKey}"}.
// The page shows ${path} reading a variable as $var does; it does not say
// what a missing variable gives, so that is an evaluation error here (an
// empty "Bearer " header would fail without anyone noticing).

func templateVars() map[string]any {
	return map[string]any{
		"credentials":         map[string]any{"apiKey": "k-123", "port": 8443, "on": true, "none": nil},
		"connectorParameters": map[string]any{"region": "eu"},
		"list":                []any{"a", "b"},
	}
}

func TestTemplateReadsVariables(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		// The documented example.
		{"doc example", `{$template: "Bearer ${credentials.apiKey}"}`, "Bearer k-123"},
		{"several placeholders", `{$template: "https://${connectorParameters.region}.api.test:${credentials.port}/v1"}`, "https://eu.api.test:8443/v1"},
		{"$. locator", `{$template: "${$.credentials.apiKey}"}`, "k-123"},
		{"index", `{$template: "${list[1]}${list.0}"}`, "ba"},
		{"boolean", `{$template: "on=${credentials.on}"}`, "on=true"},
		{"spaces inside the braces", `{$template: "Bearer ${ credentials.apiKey }"}`, "Bearer k-123"},
		{"no placeholder", `{$template: "plain text"}`, "plain text"},
		{"lone dollar and braces are text", `{$template: "$5 {x} $x"}`, "$5 {x} $x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := evalYAML(t, tc.src, templateVars()); got != tc.want {
				t.Errorf("%s = %#v, want %q", tc.src, got, tc.want)
			}
		})
	}
}

// A placeholder is a reference like $var's, so the engine checks its
// variable against the method's inputs at validate time.
func TestTemplateReferences(t *testing.T) {
	m := compileYAML(t, `{$template: "${credentials.apiKey}-${connectorParameters.region}"}`)
	var roots []string
	for _, r := range m.References() {
		roots = append(roots, r.Root)
	}
	if !reflect.DeepEqual(roots, []string{"credentials", "connectorParameters"}) {
		t.Errorf("references %v", roots)
	}
	// Inside $iterate, the item scope rules of $var apply.
	got := evalYAML(t, `{$iterate: {source: {$var: list}, item: {$template: "${item}@${index}"}}}`, templateVars())
	if !reflect.DeepEqual(got, []any{"a@0", "b@1"}) {
		t.Errorf("$iterate: %#v", got)
	}
	if _, problems := compileYAMLProblems(t, `{$iterate: {source: {$var: list}, item: {$template: "${credentials.apiKey}"}}}`); !hasError(problems, "inside an $iterate item") {
		t.Errorf("a placeholder outside the item scope: %v", problems)
	}
}

// A missing or null variable is an error naming the placeholder, never an
// empty piece of text, and never the values of other variables.
func TestTemplateMissingVariableIsAnError(t *testing.T) {
	for _, src := range []string{
		`{$template: "Bearer ${credentials.apiKy}"}`,
		`{$template: "Bearer ${credentials.none}"}`,
		`{$template: "${nothing.here} ${credentials.apiKey}"}`,
	} {
		m := compileYAML(t, src)
		got, err := m.Evaluate(templateVars())
		var ee *EvalError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), "has no value") {
			t.Errorf("%s = %#v, %v; want an evaluation error", src, got, err)
			continue
		}
		if strings.Contains(err.Error(), "k-123") {
			t.Errorf("%s: error %q shows a credential", src, err)
		}
	}
}

// Forms the page does not define are compile errors with positions.
func TestTemplateUnsupportedFormsAreCompileErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		// The page's "Basic Authentication" example uses an expression.
		{"expression", `{$template: "Basic ${base64(credentials.username + ':' + credentials.password)}"}`, "is not a variable path"},
		{"operator", `{$template: "${a+b}"}`, "is not a variable path"},
		{"empty", `{$template: "x ${}"}`, "is not a variable path"},
		{"unclosed", `{$template: "Bearer ${credentials.apiKey"}`, "is not closed"},
		{"object argument", `{$template: {template: "x"}}`, "$template expects a string"},
		{"formula argument", `{$template: {$var: x}}`, "$template expects a string"},
		{"number", `{$template: 5}`, "$template expects a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := compileYAMLProblems(t, "\n  "+tc.src)
			for _, p := range problems {
				if p.Severity == SeverityError && strings.Contains(p.Message, tc.want) {
					if p.Line != 2 || p.Column < 3 {
						t.Errorf("%q at %d:%d, want a position on line 2", p.Message, p.Line, p.Column)
					}
					return
				}
			}
			t.Errorf("%s: problems %v, want an error containing %q", tc.src, problems, tc.want)
		})
	}
}

func hasError(problems []Problem, text string) bool {
	for _, p := range problems {
		if p.Severity == SeverityError && strings.Contains(p.Message, text) {
			return true
		}
	}
	return false
}
