package formulas

import (
	"reflect"
	"strings"
	"testing"
)

// Tests of the formulas of the integration.app / Membrane formulas
// reference that were missing: [ref] is
// https://console.integration.app/docs/membrane/references/formulas,
// "List of Formulas" (the same page as docs.getmembrane.com's formulas
// reference).

// [ref] "$firstName", "$lastName": extract the first or last name from a
// full name; a one-word name is a last name.
func TestFirstNameLastName(t *testing.T) {
	tests := []struct {
		name, src string
		vars      map[string]any
		want      any
	}{
		{"first of two words", `{$firstName: {$var: fullName}}`, map[string]any{"fullName": "John Snow"}, "John"},
		{"last of two words", `{$lastName: {$var: fullName}}`, map[string]any{"fullName": "John Snow"}, "Snow"},
		{"extra spaces", `{$firstName: {$var: fullName}}`, map[string]any{"fullName": "  Ada   Lovelace "}, "Ada"},
		{"last of three words", `{$lastName: {$var: fullName}}`, map[string]any{"fullName": "Mary Ann Evans"}, "Ann Evans"},
		{"one word is a last name", `{$lastName: {$var: fullName}}`, map[string]any{"fullName": "Cher"}, "Cher"},
		{"one word has no first name", `{first: {$firstName: {$var: fullName}}, x: 1}`, map[string]any{"fullName": "Cher"}, map[string]any{"x": int64(1)}},
		{"a literal name", `{$firstName: Grace Hopper}`, nil, "Grace"},
		{"missing name", `{a: {$lastName: {$var: nobody}}, x: 1}`, nil, map[string]any{"x": int64(1)}},
		{"the reference's $copy example", `{firstName: {$firstName: {$var: fullName}}, preferredName: {$copy: firstName}}`,
			map[string]any{"fullName": "John Snow"}, map[string]any{"firstName": "John", "preferredName": "John"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := evalYAML(t, tt.src, tt.vars); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
	// A name that is not a string is an error naming the formula, and never
	// quotes the value.
	m := compileYAML(t, `{$firstName: {$var: fullName}}`)
	_, err := m.Evaluate(map[string]any{"fullName": map[string]any{"secret": "canary-7f3a"}})
	if err == nil || !strings.Contains(err.Error(), "$firstName expects a name") || strings.Contains(err.Error(), "canary-7f3a") {
		t.Errorf("err = %v", err)
	}
}

// [ref] "$formula": the argument is the result, a formula itself, with
// each $var inside it replaced by the variable's value.
func TestFormulaKeepsFormulasAndFillsVars(t *testing.T) {
	// The reference's example: variables holding formulas are put into a
	// $firstNotEmpty that is not evaluated.
	vars := map[string]any{
		"contactId": map[string]any{"$var": "$.input.contactId"},
		"companyId": map[string]any{"$var": "$.input.companyId"},
	}
	got := evalYAML(t, `
unifiedFieldsToNative:
  parent:
    $formula:
      $firstNotEmpty:
        - $var: $.contactId
        - $var: $.companyId
`, vars)
	want := map[string]any{"unifiedFieldsToNative": map[string]any{"parent": map[string]any{
		"$firstNotEmpty": []any{
			map[string]any{"$var": "$.input.contactId"},
			map[string]any{"$var": "$.input.companyId"},
		},
	}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
	// Plain values, other formulas and nesting are kept as written.
	got = evalYAML(t, `{$formula: {$case: {cases: [{filter: [{field: s, operator: is, value: {$var: wanted}}], value: [1, {$tpl: {template: "{a}"}}]}]}}}`,
		map[string]any{"wanted": "Won"})
	want = map[string]any{"$case": map[string]any{"cases": []any{map[string]any{
		"filter": []any{map[string]any{"field": "s", "operator": "is", "value": "Won"}},
		"value":  []any{int64(1), map[string]any{"$tpl": map[string]any{"template": "{a}"}}},
	}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
	// A $var without a value would change the formula produced: error.
	m := compileYAML(t, `{$formula: {$firstNotEmpty: [{$var: $.contactId}]}}`)
	if _, err := m.Evaluate(map[string]any{}); err == nil || !strings.Contains(err.Error(), "$formula: $var $.contactId has no value") {
		t.Errorf("err = %v", err)
	}
	// The variables a $formula reads are references, checked like $var's.
	m = compileYAML(t, `{$formula: {$concat: [{$var: credentials.token}]}}`)
	if refs := m.References(); len(refs) != 1 || refs[0].Root != "credentials" {
		t.Errorf("references %+v", refs)
	}
}

// [ref] the formulas that need integration.app's platform are refused at
// compile time, each by name with the reason, at its line and column.
func TestPlatformFormulasAreRefusedByName(t *testing.T) {
	tests := []struct{ src, want string }{
		{"a: 1\nid:\n  $lookup:\n    query: {email: a@b.c}\n", "formula $lookup is not supported: it finds or creates a record in an integration.app data collection"},
		{"a: 1\nid:\n  $findExternalRecordId:\n    dataLinkTable: {key: person-to-lead}\n", "formula $findExternalRecordId is not supported: it reads an integration.app data link table"},
		{"a: 1\nid:\n  $findAppRecordId:\n    dataLinkTable: {key: person-to-lead}\n", "formula $findAppRecordId is not supported: it reads an integration.app data link table"},
		{"a: 1\nid:\n  $dataSchemaRef:\n    type: data-collection\n", "formula $dataSchemaRef is not supported: it resolves an integration.app data schema"},
		{"a: 1\nid:\n  $jsonata: $sum($.products.price)\n", "formula $jsonata is not supported: JSONata expressions are not implemented; use $expr"},
		{"a: 1\nid:\n  $extractFirstName: {$var: fullName}\n", "formula $extractFirstName is not supported: the formulas reference does not define it; $firstName"},
	}
	for _, tt := range tests {
		_, problems := compileYAMLProblems(t, tt.src)
		if !hasProblem(problems, SeverityError, tt.want) {
			t.Errorf("%q: problems %v, want error %q", tt.src, problems, tt.want)
			continue
		}
		if p := problems[0]; p.Line != 3 || p.Column != 3 {
			t.Errorf("%q: at %d:%d, want 3:3", tt.src, p.Line, p.Column)
		}
	}
}

// A $-key that is not first in its object is sent as a literal key; that is
// always said, whether or not the name is close to a known formula.
func TestDollarKeysThatAreNotFormulasWarn(t *testing.T) {
	for _, src := range []string{`{a: 1, $zzz: 2}`, `{a: 1, $ref: "#/x"}`, `{a: 1, $firstname: x}`} {
		_, problems := compileYAMLProblems(t, src)
		if !hasProblem(problems, SeverityWarning, "is a literal key") {
			t.Errorf("%s: %v", src, problems)
		}
	}
	// An unknown $-key first in its object is an error, as before.
	_, problems := compileYAMLProblems(t, `{$zzz: 1, a: 2}`)
	if !hasProblem(problems, SeverityError, "unknown formula $zzz") {
		t.Errorf("%v", problems)
	}
}

// [ref] "$iterate": source is "the source list to iterate over". A source
// that is a string, number or object is a mistake that would otherwise give
// nothing at all: an evaluation error naming its kind. (A missing or null
// source is still undefined.)
func TestIterateSourceNotAnArrayIsAnError(t *testing.T) {
	for _, v := range []any{"word", int64(3), map[string]any{"a": "b"}, true} {
		m := compileYAML(t, `{$iterate: {source: {$var: src}, item: {$var: $.item}}}`)
		_, err := m.Evaluate(map[string]any{"src": v})
		if err == nil || !strings.Contains(err.Error(), "$iterate source is") || !strings.Contains(err.Error(), "not an array") {
			t.Errorf("source %#v: err = %v", v, err)
		}
	}
}
