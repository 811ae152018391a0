package formulas

import (
	"reflect"
	"strings"
	"testing"
)

// Tests of the formula forms as integration.app documents them. Sources:
//   - [caseDoc] https://docs.integration.app/working-with-data/formulas, "$case":
//     a case's filter is a list of {field, operator, value} conditions that
//     must all hold; a case without filter always matches ("else"); a filter
//     with zero conditions always matches; the first matching case wins;
//     $case may be the list of cases itself.
//   - [evalDoc] https://docs.getmembrane.com/docs/references/formulas, "$eval":
//     the operators is, isNot, isEmpty, isNotEmpty, contains, doesNotContain,
//     oneOf, noneOf, gt, gte, lt, lte (the same names serve as condition
//     operators); $case in its {cases, default} form.
//   - [filterDoc] https://docs.integration.app/working-with-data/filters,
//     "Data Filter": a condition's field is a locator into the data tested.

// caseVars are the variables of the $case tests.
func caseVars() map[string]any {
	return map[string]any{
		"status": "Won", "amount": 250, "owner": "", "tags": []any{"vip", "eu"},
		"region": "eu", "min": 100,
	}
}

func TestCaseConditionFilters(t *testing.T) {
	tests := []struct {
		name, src string
		want      any
	}{
		// [caseDoc] the documented example, both branches.
		{"doc example, match", `{$case: [{filter: [{field: status, operator: is, value: Won}], value: Status is Won}, {value: Status is not Won}]}`, "Status is Won"},
		{"doc example, else", `{$case: [{filter: [{field: status, operator: is, value: Lost}], value: Status is Won}, {value: Status is not Won}]}`, "Status is not Won"},
		// [caseDoc] every condition must hold.
		{"all conditions hold", `{$case: {cases: [{filter: [{field: status, operator: is, value: Won}, {field: amount, operator: gt, value: 500}], value: big}, {filter: [{field: status, operator: is, value: Won}, {field: amount, operator: gt, value: 100}], value: medium}], default: none}}`, "medium"},
		// [caseDoc] the first matching case wins.
		{"first match wins", `{$case: {cases: [{filter: [{field: amount, operator: gte, value: 1}], value: first}, {filter: [{field: amount, operator: gte, value: 1}], value: second}]}}`, "first"},
		// [caseDoc] zero conditions always match.
		{"empty filter matches", `{$case: {cases: [{filter: [{field: region, operator: is, value: us}], value: us}, {filter: [], value: any}]}}`, "any"},
		// [evalDoc] default when nothing matches; undefined without default.
		{"default", `{$case: {cases: [{filter: [{field: region, operator: is, value: us}], value: us}], default: other}}`, "other"},
		{"no match, no default", `{$case: {cases: [{filter: [{field: region, operator: is, value: us}], value: us}]}}`, nil},
		// [evalDoc] each operator, as a condition.
		{"isNot", `{$case: [{filter: [{field: region, operator: isNot, value: us}], value: t}, {value: f}]}`, "t"},
		{"isEmpty", `{$case: [{filter: [{field: owner, operator: isEmpty}], value: t}, {value: f}]}`, "t"},
		{"isEmpty on missing field", `{$case: [{filter: [{field: nobody, operator: isEmpty}], value: t}, {value: f}]}`, "t"},
		{"isNotEmpty", `{$case: [{filter: [{field: owner, operator: isNotEmpty}], value: t}, {value: f}]}`, "f"},
		{"contains string", `{$case: [{filter: [{field: status, operator: contains, value: o}], value: t}, {value: f}]}`, "t"},
		{"contains array", `{$case: [{filter: [{field: tags, operator: contains, value: vip}], value: t}, {value: f}]}`, "t"},
		{"doesNotContain", `{$case: [{filter: [{field: tags, operator: doesNotContain, value: vip}], value: t}, {value: f}]}`, "f"},
		{"oneOf", `{$case: [{filter: [{field: region, operator: oneOf, value: [us, eu]}], value: t}, {value: f}]}`, "t"},
		{"noneOf", `{$case: [{filter: [{field: region, operator: noneOf, value: [us, eu]}], value: t}, {value: f}]}`, "f"},
		{"gt false", `{$case: [{filter: [{field: amount, operator: gt, value: 250}], value: t}, {value: f}]}`, "f"},
		{"gte", `{$case: [{filter: [{field: amount, operator: gte, value: 250}], value: t}, {value: f}]}`, "t"},
		{"lt", `{$case: [{filter: [{field: amount, operator: lt, value: 300}], value: t}, {value: f}]}`, "t"},
		{"lte false", `{$case: [{filter: [{field: amount, operator: lte, value: 249}], value: t}, {value: f}]}`, "f"},
		// [filterDoc] the field is a locator; "$.x" and "x" are the same.
		{"$. locator field", `{$case: [{filter: [{field: "$.tags[1]", operator: is, value: eu}], value: t}, {value: f}]}`, "t"},
		// A condition's value may be a formula.
		{"value is a formula", `{$case: [{filter: [{field: amount, operator: gt, value: {$var: min}}], value: t}, {value: f}]}`, "t"},
		// [evalDoc] the $eval filter form keeps working next to conditions.
		{"$eval filter", `{$case: {cases: [{filter: {$eval: {$var: region}, is: us}, value: us}, {filter: {$eval: {$var: region}, is: eu}, value: eu}]}}`, "eu"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := evalYAML(t, tc.src, caseVars())
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s\ngot  %#v\nwant %#v", tc.src, got, tc.want)
			}
		})
	}
}

// A filter that cannot be read as documented is a compile error naming it,
// never a filter that silently always (or never) matches.
func TestCaseFilterProblems(t *testing.T) {
	tests := []struct {
		src  string
		sev  Severity
		want string
	}{
		{`{$case: [{filter: [{field: a, operator: equals, value: 1}], value: x}]}`, SeverityError, `unknown filter operator "equals"`},
		{`{$case: [{filter: [{field: a, operator: isnot, value: 1}], value: x}]}`, SeverityError, "did you mean isNot?"},
		{`{$case: [{filter: [{field: a, operator: is}], value: x}]}`, SeverityError, "operator is needs value"},
		{`{$case: [{filter: [{operator: is, value: 1}], value: x}]}`, SeverityError, "needs field and operator"},
		{`{$case: [{filter: [{field: a, value: 1}], value: x}]}`, SeverityError, "needs field and operator"},
		{`{$case: [{filter: [{field: a, operator: is, vaule: 1}], value: x}]}`, SeverityError, `unknown filter condition key "vaule"`},
		{`{$case: [{filter: [{field: 5, operator: is, value: 1}], value: x}]}`, SeverityError, "expects a locator string"},
		{`{$case: [{filter: [{field: a, operator: [is], value: 1}], value: x}]}`, SeverityError, "unknown filter operator"},
		{`{$case: [{filter: [{field: a, operator: oneOf, value: x}], value: x}]}`, SeverityError, "expects a list"},
		{`{$case: [{filter: [true], value: x}]}`, SeverityError, "a filter condition is an object"},
		{`{$case: [{filter: {field: a, operator: is, value: 1}, value: x}]}`, SeverityError, "filter must be a list of {field, operator, value} conditions or a formula"},
		{`{$case: [{value: else}, {filter: [], value: never}]}`, SeverityWarning, "case 1 is never chosen"},
		{`{$case: {cases: [{value: else}], default: d}}`, SeverityWarning, "default is never used"},
		{`{$case: [{filter: [{field: a, operator: isEmpty, value: 1}], value: x}]}`, SeverityWarning, "isEmpty ignores value"},
	}
	for _, tc := range tests {
		_, problems := compileYAMLProblems(t, tc.src)
		if !hasProblem(problems, tc.sev, tc.want) {
			t.Errorf("%s: got %v, want %v containing %q", tc.src, problems, tc.sev, tc.want)
		}
	}
	// The position points at the offending operator.
	_, problems := compileYAMLProblems(t, "$case:\n  - filter:\n      - field: a\n        operator: bogus\n")
	if len(problems) == 0 || problems[0].Line != 4 || problems[0].Column != 19 || problems[0].Path != "/$case/0/filter/0/operator" {
		t.Errorf("position: %+v", problems)
	}
}

// $iterate as the issue describes it: inside item, $.item is the element,
// $.index its zero-based position and $.parent the scope around the
// $iterate (for a nested $iterate, the outer item's scope). Could not be
// confirmed word for word from a stored copy of the formulas reference
// (https://docs.getmembrane.com/docs/references/formulas, "$iterate").
func TestIterateItemIndexParent(t *testing.T) {
	vars := map[string]any{
		"prefix": "p-",
		"orders": []any{
			map[string]any{"id": "o1", "lines": []any{map[string]any{"sku": "a"}, map[string]any{"sku": "b"}}},
			map[string]any{"id": "o2", "lines": []any{map[string]any{"sku": "c"}}},
		},
	}
	tests := []struct {
		name, src string
		want      any
	}{
		{"item", `{$iterate: {source: {$var: orders}, item: {$var: $.item.id}}}`, []any{"o1", "o2"}},
		{"item without $.", `{$iterate: {source: {$var: orders}, item: {$var: item.id}}}`, []any{"o1", "o2"}},
		{"index", `{$iterate: {source: {$var: orders}, item: {$var: $.index}}}`, []any{int64(0), int64(1)}},
		{"parent reads the variables", `{$iterate: {source: {$var: orders}, item: {$concat: [{$var: $.parent.prefix}, {$var: $.item.id}]}}}`, []any{"p-o1", "p-o2"}},
		{"nested", `{$iterate: {source: {$var: orders}, item: {$iterate: {source: {$var: $.item.lines}, item: {$tpl: {template: "{o}/{i}:{s} {p}", values: {o: {$var: $.parent.item.id}, i: {$var: $.index}, s: {$var: $.item.sku}, p: {$var: $.parent.parent.prefix}}}}}}}}`,
			[]any{[]any{"o1/0:a p-", "o1/1:b p-"}, []any{"o2/0:c p-"}}},
		{"$expr sees item and index", `{$iterate: {source: {$var: orders}, item: {$expr: "item.id + string(index)"}}}`, []any{"o10", "o21"}},
		{"condition field inside item", `{$iterate: {source: {$var: orders}, item: {$case: [{filter: [{field: $.item.id, operator: is, value: o2}], value: yes}, {value: no}]}}}`, []any{"no", "yes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := evalYAML(t, tc.src, vars)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s\ngot  %#v\nwant %#v", tc.src, got, tc.want)
			}
		})
	}
}

// Inside an item only item, index and parent exist: any other locator would
// evaluate to nothing, so it is a compile error that says what to write.
func TestIterateLocatorProblems(t *testing.T) {
	tests := []struct{ src, want string }{
		{`{$iterate: {source: {$var: orders}, item: {$var: id}}}`, `"id" reads nothing: write $.item.id`},
		{`{$iterate: {source: {$var: orders}, item: {$var: $.id}}}`, `"$.id" reads nothing: write $.item.id`},
		{`{$iterate: {source: {$var: orders}, item: {$var: $}}}`, `"$" reads nothing: write $.item`},
		{`{$iterate: {source: {$var: orders}, item: {$expr: "id + 1"}}}`, `"id" is undefined there: write item.id`},
		{`{$iterate: {source: {$var: orders}, item: {$case: [{filter: [{field: id, operator: isEmpty}], value: 1}]}}}`, `"id" reads nothing`},
	}
	for _, tc := range tests {
		_, problems := compileYAMLProblems(t, tc.src)
		if !hasProblem(problems, SeverityError, tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.src, problems, tc.want)
		}
	}
}

// $.parent chains that climb out of every item read the mapping's
// variables, so References reports them for name checks.
func TestIterateParentReferences(t *testing.T) {
	m := compileYAML(t, `{$iterate: {source: {$var: a}, item: {$iterate: {source: {$var: $.item.b}, item: [{$var: $.parent.parent.credentails.x}, {$var: $.parent.item}]}}}}`)
	var roots []string
	for _, r := range m.References() {
		roots = append(roots, r.Root)
	}
	if !reflect.DeepEqual(roots, []string{"a", "credentails"}) {
		t.Errorf("roots %v", roots)
	}
}

// Every formula name in the reference is either compiled or refused by
// name; none is taken as a literal key. Names from the formulas reference
// table of contents (https://docs.integration.app/docs/formulas, "List of
// Formulas") and Membrane's ($concat).
func TestDocumentedFormulaNames(t *testing.T) {
	documented := []string{"$var", "$tpl", "$concat", "$lookup", "$eval", "$and", "$or", "$case", "$map", "$iterate",
		"$firstName", "$lastName", "$copy", "$findExternalRecordId", "$findAppRecordId", "$jsonata", "$plain"}
	for _, name := range documented {
		_, problems := compileYAMLProblems(t, "{"+name+": x}")
		for _, p := range problems {
			if strings.Contains(p.Message, "unknown formula") {
				t.Errorf("%s: %v", name, p)
			}
		}
	}
	// Written after another key, a formula name is a literal key: warn.
	for _, src := range []string{`{a: 1, $lookup: {query: {}}}`, `{a: 1, $tpll: x}`, `{a: 1, $case: x}`} {
		_, problems := compileYAMLProblems(t, src)
		if len(problems) == 0 || problems[0].Severity != SeverityWarning || !strings.Contains(problems[0].Message, "literal key") {
			t.Errorf("%s: %v", src, problems)
		}
	}
	// An unknown formula name first in its object is an error naming it.
	// ($formula, which this test used before, is in the reference and
	// compiled now.)
	_, problems := compileYAMLProblems(t, `{$formulae: x}`)
	if !hasProblem(problems, SeverityError, "unknown formula $formulae") {
		t.Errorf("$formulae: %v", problems)
	}
}
