package refdocs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/connspec/connspec/formulas"
)

// formulaExample is one formula's entry on the page. Its mapping is compiled
// and evaluated against exampleVars when the page is written; the result on
// the page is what the code gave.
type formulaExample struct {
	name    string // the formula, such as "$var"
	summary string
	mapping string // YAML
}

// exampleVars are the variables every example is evaluated against.
const exampleVars = `credentials:
  access_token: tok-123
connectionParameters:
  region: eu
  subdomain: acme
  accountId: 42
user:
  fullName: Ada Lovelace
  email: ada@example.com
items:
  - {id: 1, name: one}
  - {id: 2, name: two}
`

// formulaExamples document every formula the formulas package compiles; the
// generator refuses to write the page when one is missing.
var formulaExamples = []formulaExample{
	{"$var", "Reads a variable by locator (`a.b[0]`, `$.a.b`); a missing path is undefined.",
		`{$var: credentials.access_token}`},
	{"$tpl", "Fills each `{name}` of a template from `values`; a missing value gives the empty string.",
		`{$tpl: {template: "https://{sub}.example.com/api", values: {sub: {$var: connectionParameters.subdomain}}}}`},
	{"$template", "Fills each `${locator}` with a variable; an undefined or null variable is an error.",
		`{$template: "Bearer ${credentials.access_token}"}`},
	{"$concat", "Joins the string forms of the items that are not undefined, null or empty (optionally with a `delimiter`).",
		`{$concat: {values: [{$var: connectionParameters.subdomain}, {$var: connectionParameters.missing}, eu], delimiter: "-"}}`},
	{"$firstNotEmpty", "The first item that is not undefined, null or empty.",
		`{$firstNotEmpty: [{$var: connectionParameters.missing}, "", https://api.example.com]}`},
	{"$case", "The value of the first case whose filter holds, else `default`.",
		`{$case: {cases: [{filter: {$eval: {$var: connectionParameters.region}, is: eu}, value: https://api.eu.example.com}], default: https://api.example.com}}`},
	{"$eval", "Compares a value with one operator: `is`, `isNot`, `oneOf`, `noneOf`, `contains`, `doesNotContain`, `gt`, `gte`, `lt`, `lte`, `isEmpty`, `isNotEmpty`.",
		`{$eval: {$var: connectionParameters.region}, oneOf: [eu, us]}`},
	{"$and", "True when every condition holds.",
		`{$and: [{$eval: {$var: connectionParameters.region}, is: eu}, {$eval: {$var: connectionParameters.accountId}, gt: 10}]}`},
	{"$or", "True when one condition holds.",
		`{$or: [{$eval: {$var: connectionParameters.region}, is: us}, {$eval: {$var: connectionParameters.accountId}, lt: 10}]}`},
	{"$map", "Maps a value through `mapping` (`from` → `to`); without a match, `default` (undefined when absent).",
		`{$map: {value: {$var: connectionParameters.region}, mapping: [{from: eu, to: https://eu.api.example.com}, {from: us, to: https://us.api.example.com}], default: https://api.example.com}}`},
	{"$iterate", "Evaluates `item` per element of `source`, with `$.item`, `$.index` and `$.parent`.",
		`{$iterate: {source: {$var: items}, item: {id: {$var: $.item.id}, position: {$var: $.index}}}}`},
	{"$mergeObjects", "Shallow merge of objects; later keys win.",
		`{$mergeObjects: [{Accept: application/json}, {Authorization: {$concat: ["Bearer ", {$var: credentials.access_token}]}}]}`},
	{"$copy", "The evaluated value of a sibling field of the enclosing object.",
		`{email: {$var: user.email}, login: {$copy: email}}`},
	{"$plain", "The value as written; formulas inside are not evaluated.",
		`{$plain: {$var: credentials.access_token}}`},
	{"$formula", "The value as written, except that each `$var` inside is replaced by the variable's value.",
		`{$formula: {$concat: [{$var: connectionParameters.subdomain}, ".example.com"]}}`},
	{"$firstName", "The first word of a full name.",
		`{$firstName: {$var: user.fullName}}`},
	{"$lastName", "The words of a full name after the first.",
		`{$lastName: {$var: user.fullName}}`},
	{"$expr", "An [expr-lang](https://expr-lang.org) expression run against the variables; a nil result is undefined.",
		`{$expr: 'upper(connectionParameters.subdomain) + "-" + string(connectionParameters.accountId)'}`},
}

func writeFormulas(b *bytes.Buffer) error {
	return renderFormulas(b, formulaExamples)
}

// renderFormulas writes the formulas page with examples. It fails when a
// formula the package compiles has no example, an example names a formula
// the package does not compile, or an example does not compile or evaluate
// cleanly; and when a formula listed as unsupported compiles.
func renderFormulas(b *bytes.Buffer, examples []formulaExample) error {
	var vars map[string]any
	if err := yaml.Unmarshal([]byte(exampleVars), &vars); err != nil {
		return fmt.Errorf("example variables: %w", err)
	}
	if err := checkExampleCoverage(examples); err != nil {
		return err
	}
	b.WriteString("Formulas build values from variables in mappings (`makeApiClient`, `getOAuthConfig`, ...).\n" +
		"An object whose first key is a formula name is a formula; everything else is copied with its formulas\n" +
		"evaluated, and keys whose value is undefined are left out. `go doc github.com/connspec/connspec/formulas`\n" +
		"gives the full semantics; [compatibility.md](../compatibility.md#formulas) compares them with integration.app's.\n\n" +
		"Every example below was evaluated by the generator against these variables:\n\n```yaml\n" + exampleVars + "```\n\n" +
		"| Formula | What it gives |\n|---|---|\n")
	for _, ex := range examples {
		fmt.Fprintf(b, "| [`%s`](#%s) | %s |\n", ex.name, strings.TrimPrefix(strings.ToLower(ex.name), "$"), cell(ex.summary))
	}
	for _, ex := range examples {
		result, err := evaluateExample(ex, vars)
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "\n## %s\n\n%s\n\n```yaml\n%s\n```\n\ngives\n\n```json\n%s\n```\n", ex.name, ex.summary, ex.mapping, result)
	}
	return writeUnsupportedFormulas(b)
}

// checkExampleCoverage requires exactly one example per formula the package
// compiles, each using its formula.
func checkExampleCoverage(examples []formulaExample) error {
	known := formulas.KnownFormulas()
	seen := map[string]bool{}
	for _, ex := range examples {
		if !slices.Contains(known, ex.name) {
			return fmt.Errorf("example for %s: the formulas package does not compile that formula", ex.name)
		}
		if seen[ex.name] {
			return fmt.Errorf("two examples for %s", ex.name)
		}
		seen[ex.name] = true
		if !strings.Contains(ex.mapping, ex.name+":") {
			return fmt.Errorf("the example for %s does not use it: %s", ex.name, ex.mapping)
		}
	}
	for _, name := range known {
		if !seen[name] {
			return fmt.Errorf("formula %s has no example in internal/refdocs/formulas.go", name)
		}
	}
	return nil
}

// evaluateExample compiles and evaluates an example and returns its result
// as indented JSON; any compile problem, warnings included, is an error.
func evaluateExample(ex formulaExample, vars map[string]any) (string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(ex.mapping), &doc); err != nil {
		return "", fmt.Errorf("example for %s: %w", ex.name, err)
	}
	m, problems := formulas.Compile(&doc)
	if len(problems) > 0 {
		return "", fmt.Errorf("example for %s does not compile cleanly: %v", ex.name, problems)
	}
	v, err := m.Evaluate(vars)
	if err != nil {
		return "", fmt.Errorf("example for %s: %w", ex.name, err)
	}
	if v == nil {
		return "", fmt.Errorf("example for %s gives undefined; show a defined result", ex.name)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("example for %s: %w", ex.name, err)
	}
	return strings.TrimSuffix(out.String(), "\n"), nil
}

// writeUnsupportedFormulas lists the refused formulas with the error a
// connector using one gets, taken from the compiler.
func writeUnsupportedFormulas(b *bytes.Buffer) error {
	refused := formulas.UnsupportedFormulas()
	b.WriteString("\n## Not supported\n\nThese formulas of integration.app's reference are refused when a connector is validated, with this error:\n\n" +
		"| Formula | Error |\n|---|---|\n")
	for _, name := range slices.Sorted(maps.Keys(refused)) {
		_, problems := formulas.CompileValue(map[string]any{name: "x"})
		if len(problems) == 0 || problems[0].Severity != formulas.SeverityError {
			return fmt.Errorf("formula %s is listed as unsupported but compiles", name)
		}
		fmt.Fprintf(b, "| `%s` | %s |\n", name, cell(problems[0].Message))
	}
	b.WriteString("\nAny other `$` key first in its object is an error (an unknown formula, with the nearest known name);\n" +
		"elsewhere in an object it is a warning and is sent as a literal key.\n")
	return nil
}
