package formulas

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// fuzzVars are the variables FuzzCompileEvaluate evaluates against. A
// self-referencing value would let fuzzed nested $iterate formulas run to
// the step limit on every input and slow the fuzzer to a crawl; the limit
// has its own test.
func fuzzVars() map[string]any {
	v := testVars()
	v["cycle"] = []any{[]any{[]any{1, 2}, []any{3}}, []any{4}}
	return v
}

// checkEvaluate evaluates twice and fails on internal errors or results
// that differ between runs.
func checkEvaluate(t *testing.T, m *Mapping, vars map[string]any) {
	got, err := m.Evaluate(vars)
	if err != nil {
		var ee *EvalError
		if !errors.As(err, &ee) {
			t.Fatalf("error that is not an *EvalError: %v", err)
		}
		return
	}
	again, err := m.Evaluate(vars)
	if err != nil {
		t.Fatalf("second evaluation failed: %v", err)
	}
	if !reflect.DeepEqual(got, again) && !sameWithNaN(got, again) {
		t.Fatalf("evaluations differ: %#v vs %#v", got, again)
	}
}

// sameWithNaN compares results in which NaN (from $expr "0/0") counts as
// equal to itself, as it is the same result both times.
func sameWithNaN(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || x != x && y != y)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sameWithNaN(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameWithNaN(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func FuzzCompileEvaluate(f *testing.F) {
	f.Add(makeAPIClientYAML)
	f.Add(`{$iterate: {source: {$var: items}, item: {id: {$var: $.item.id}, c: {$copy: id}}}}`)
	f.Add(`{n: {$expr: "0/0"}, l: [{$expr: "0/0"}]}`) // NaN is the same result each time
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 8192 {
			return
		}
		var doc yaml.Node
		if yaml.Unmarshal([]byte(src), &doc) != nil {
			return
		}
		m, problems := Compile(&doc)
		hasError := false
		for _, p := range problems {
			if p.Severity == SeverityError {
				hasError = true
			}
			if p.Message == "" || strings.Contains(p.Message, "internal error") {
				t.Fatalf("problem without message: %+v", p)
			}
		}
		if hasError != (m == nil) {
			t.Fatalf("error problems %v but mapping %v", hasError, m != nil)
		}
		if m == nil {
			return
		}
		_ = m.References()
		checkEvaluate(t, m, fuzzVars())
		checkEvaluate(t, m, nil)
	})
}

// fuzzMappings are fixed mappings evaluated against fuzzed variables.
var fuzzMappings = []string{
	makeAPIClientYAML,
	`{$tpl: {template: "{a}-{b}", values: {a: {$var: a}, b: {$var: "b[0].c"}}}}`,
	`{$concat: {values: [{$var: a}, {$var: b}, {$var: '$.c\.d'}], delimiter: {$var: d}}}`,
	`{$firstNotEmpty: [{$var: a}, {$var: b}, {$var: c}]}`,
	`{$iterate: {source: {$var: a}, item: {x: {$var: $.item.x}, y: {$copy: x}, all: {$var: $.item}}}}`,
	`{$iterate: {source: {$var: a}, item: {$iterate: {source: {$var: $.item.b}, item: {i: {$var: $.index}, o: {$var: $.parent.item.x}, t: {$var: $.parent.parent.c}}}}}}`,
	`{$case: [{filter: [{field: a, operator: gt, value: {$var: b}}, {field: "$.c", operator: noneOf, value: [1, x]}], value: 1}, {filter: [{field: b, operator: contains, value: x}], value: 2}, {value: 3}]}`,
	`{$mergeObjects: [{$var: a}, {$var: b}, {k: 1}]}`,
	`{$map: {value: {$var: a}, mapping: [{from: 1, to: one}, {from: {$var: b}, to: b}, {from: [1], to: list}]}}`,
	`{$and: [{$var: a}, {$or: [{$var: b}, {$eval: {$var: c}, isEmpty: true}]}]}`,
	`{e: {$expr: "a + b"}, f: {$expr: "len(string(c))"}, g: {$expr: "a?.b?.c ?? 1"}}`,
	`
$case:
  cases:
    - filter: {$eval: {$var: a}, is: {$var: b}}
      value: is
    - filter: {$eval: {$var: a}, isNot: x}
      value: isNot
    - filter: {$eval: {$var: a}, oneOf: {$var: b}}
      value: oneOf
    - filter: {$eval: {$var: a}, noneOf: [1, "2", null]}
      value: noneOf
    - filter: {$eval: {$var: a}, contains: {$var: b}}
      value: contains
    - filter: {$eval: {$var: a}, doesNotContain: x}
      value: doesNotContain
    - filter: {$eval: {$var: a}, gt: {$var: b}}
      value: gt
    - filter: {$eval: {$var: a}, gte: "5"}
      value: gte
    - filter: {$eval: {$var: a}, lt: {$var: c}}
      value: lt
    - filter: {$eval: {$var: a}, lte: 1e300}
      value: lte
    - filter: {$eval: {$var: a}, isNotEmpty: true}
      value: isNotEmpty
  default: {$plain: {$var: a}}
`,
}

func FuzzMappingEvaluate(f *testing.F) {
	f.Add(`{"credentials":{"access_token":"t"},"connectionParameters":{"region":"eu","accountId":1}}`)
	f.Add(`{"a":[{"x":1},{"x":null},2],"b":[{"c":"z"}],"c.d":"e","d":","}`)
	mappings := make([]*Mapping, len(fuzzMappings))
	for i, src := range fuzzMappings {
		mappings[i] = compileYAML(f, src)
	}
	f.Fuzz(func(t *testing.T, data string) {
		for _, useNumber := range []bool{false, true} {
			dec := json.NewDecoder(bytes.NewReader([]byte(data)))
			if useNumber {
				dec.UseNumber()
			}
			var vars map[string]any
			if dec.Decode(&vars) != nil {
				return
			}
			for _, m := range mappings {
				checkEvaluate(t, m, vars)
			}
		}
	})
}
