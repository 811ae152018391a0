package formulas

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

func testVars() map[string]any {
	return map[string]any{
		"credentials": map[string]any{"access_token": "tok", "empty": "", "null": nil},
		"params": map[string]any{
			"region": "eu", "n": 5, "f": 2.5, "nstr": "10", "word": "apple",
			"list": []any{"a", "b"}, "obj": map[string]any{"x": int64(1)},
			"emptyList": []any{}, "emptyObj": map[string]any{}, "yes": true,
		},
		"items": []any{
			map[string]any{"id": 1, "name": "A"},
			map[string]any{"id": 2, "name": "B"},
		},
		"dot.key":  map[string]any{"br[ack": []any{"x"}},
		"strs":     map[string]string{"k": "v"},
		"typed":    []string{"s0", "s1"},
		"ints":     []int{7, 8},
		"jsonNums": []any{float64(3), float64(1.5)},
	}
}

// compileYAML compiles src and fails the test on error problems.
func compileYAML(t testing.TB, src string) *Mapping {
	t.Helper()
	m, problems := compileYAMLProblems(t, src)
	for _, p := range problems {
		if p.Severity == SeverityError {
			t.Fatalf("unexpected problems for %s:\n%v", src, problems)
		}
	}
	return m
}

func compileYAMLProblems(t testing.TB, src string) (*Mapping, []Problem) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	return Compile(&doc)
}

func evalYAML(t testing.TB, src string, vars map[string]any) any {
	t.Helper()
	m := compileYAML(t, src)
	got, err := m.Evaluate(vars)
	if err != nil {
		t.Fatalf("evaluate %s: %v", src, err)
	}
	return got
}

type evalCase struct {
	name string
	src  string
	want any
}

func runEvalCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := evalYAML(t, tc.src, testVars())
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s\ngot  %#v\nwant %#v", tc.src, got, tc.want)
			}
		})
	}
}

func TestVar(t *testing.T) {
	runEvalCases(t, []evalCase{
		{"root anchored", `{$var: $.credentials.access_token}`, "tok"},
		{"root relative", `{$var: credentials.access_token}`, "tok"},
		{"index", `{$var: "items[1].name"}`, "B"},
		{"index as key", `{$var: items.0.name}`, "A"},
		{"escaped dot and bracket", `{$var: '$.dot\.key.br\[ack[0]'}`, "x"},
		{"missing is undefined", `{$var: credentials.nope}`, nil},
		{"missing parent is undefined", `{$var: nope.deeper.still}`, nil},
		{"index out of range", `{$var: "items[9]"}`, nil},
		{"null value", `{a: {$var: credentials.null}, b: 1}`, map[string]any{"a": nil, "b": int64(1)}},
		{"whole root", `{$var: $}`, testVars()},
		{"whole root with dot", `{$var: $.}`, testVars()},
		{"map[string]string", `{$var: strs.k}`, "v"},
		{"typed slice", `{$var: "typed[1]"}`, "s1"},
		{"reflected slice", `{$var: "ints[0]"}`, 7},
	})
}

func TestLocatorParse(t *testing.T) {
	tests := []struct {
		in      string
		want    []string // keys of the segments
		wantErr bool
	}{
		{in: "$", want: nil},
		{in: "$.", want: nil},
		{in: "a", want: []string{"a"}},
		{in: "$.a.b[0]", want: []string{"a", "b", "0"}},
		{in: "a[0][1].c", want: []string{"a", "0", "1", "c"}},
		{in: "$[2]", want: []string{"2"}},
		{in: `$.dot\.field.bracket\[field[0]`, want: []string{"dot.field", "bracket[field", "0"}},
		{in: `back\\slash`, want: []string{`back\slash`}},
		{in: "", wantErr: true},
		{in: "a..b", wantErr: true},
		{in: ".a", wantErr: true},
		{in: "a.", wantErr: true},
		{in: "a[x]", wantErr: true},
		{in: "a[-1]", wantErr: true},
		{in: "a[1", wantErr: true},
		{in: "a[1]b", wantErr: true},
		{in: "a.[1]", wantErr: true},
	}
	for _, tc := range tests {
		l, err := parseLocator(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("parseLocator(%q) = %v, want error", tc.in, l.segs)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseLocator(%q): %v", tc.in, err)
			continue
		}
		var keys []string
		for _, s := range l.segs {
			keys = append(keys, s.key)
		}
		if !reflect.DeepEqual(keys, tc.want) {
			t.Errorf("parseLocator(%q) = %q, want %q", tc.in, keys, tc.want)
		}
	}
}

func TestTpl(t *testing.T) {
	runEvalCases(t, []evalCase{
		{"basic", `{$tpl: {template: "Hello {name}!", values: {name: {$var: params.word}}}}`, "Hello apple!"},
		{"missing value is empty", `{$tpl: {template: "a{x}b", values: {}}}`, "ab"},
		{"undefined value is empty", `{$tpl: {template: "a{x}b", values: {x: {$var: nope}}}}`, "ab"},
		{"numbers and bools", `{$tpl: {template: "{n}/{f}/{b}", values: {n: {$var: params.n}, f: {$var: params.f}, b: true}}}`, "5/2.5/true"},
		{"object as JSON", `{$tpl: {template: "{o}", values: {o: {$var: params.obj}}}}`, `{"x":1}`},
		{"json braces kept", `{$tpl: {template: '{"a": {v}}', values: {v: 1}}}`, `{"a": 1}`},
		{"repeated placeholder", `{$tpl: {template: "{v}{v}", values: {v: ab}}}`, "abab"},
		{"template from variable", `{$tpl: {template: {$var: params.tmpl}, values: {v: 1}}}`, nil},
		{"values from a formula", `{$tpl: {template: "{region}-{word}", values: {$var: params}}}`, "eu-apple"},
	})
}

func TestConcat(t *testing.T) {
	runEvalCases(t, []evalCase{
		{"array form", `{$concat: ["Bearer ", {$var: credentials.access_token}]}`, "Bearer tok"},
		{"drops undefined null and empty", `{$concat: [a, {$var: nope}, null, "", {$var: credentials.empty}, b]}`, "ab"},
		{"delimiter", `{$concat: {values: [a, {$var: nope}, b, c], delimiter: ", "}}`, "a, b, c"},
		{"numbers", `{$concat: {values: [1, 2.5, {$var: params.n}], delimiter: "-"}}`, "1-2.5-5"},
		{"all empty gives empty string", `{$concat: [{$var: nope}]}`, ""},
		{"list from variable", `{$concat: {values: {$var: params.list}, delimiter: "+"}}`, "a+b"},
		{"bare formula list", `{$concat: {$var: params.list}}`, "ab"},
		{"json numbers", `{$concat: {values: {$var: jsonNums}, delimiter: ","}}`, "3,1.5"},
	})
}

func TestFirstNotEmpty(t *testing.T) {
	runEvalCases(t, []evalCase{
		{"skips empties", `{$firstNotEmpty: [{$var: nope}, null, "", {$var: credentials.empty}, second, third]}`, "second"},
		{"keeps zero and false", `{$firstNotEmpty: ["", 0, 1]}`, int64(0)},
		{"all empty is undefined", `{$firstNotEmpty: [{$var: nope}, ""]}`, nil},
	})
}

func TestCase(t *testing.T) {
	src := `
$case:
  cases:
    - filter: { $eval: { $var: params.region }, is: us }
      value: US
    - filter: { $eval: { $var: params.region }, is: eu }
      value: EU
    - filter: true
      value: never
  default: other`
	if got := evalYAML(t, src, testVars()); got != "EU" {
		t.Errorf("first matching case: got %v", got)
	}
	runEvalCases(t, []evalCase{
		{"default", `{$case: {cases: [{filter: false, value: x}], default: d}}`, "d"},
		{"no default is undefined", `{$case: {cases: [{filter: {$var: nope}, value: x}]}}`, nil},
		{"truthy value filter", `{$case: {cases: [{filter: {$var: params.word}, value: yes}]}}`, "yes"},
		{"zero is falsy", `{$case: {cases: [{filter: 0, value: a}, {filter: "0", value: b}]}}`, "b"},
		{"empty list is truthy", `{$case: {cases: [{filter: {$var: params.emptyList}, value: t}]}}`, "t"},
		{"$and filter", `{$case: {cases: [{filter: {$and: [true, {$var: params.yes}]}, value: both}]}}`, "both"},
		{"value is a formula", `{$case: {cases: [{filter: true, value: {$var: params.n}}]}}`, 5},
	})
}

func TestEvalOperators(t *testing.T) {
	tests := []struct {
		src  string
		want bool
	}{
		{`{$eval: {$var: params.region}, is: eu}`, true},
		{`{$eval: {$var: params.region}, is: us}`, false},
		{`{$eval: {$var: params.n}, is: 5}`, true},
		{`{$eval: {$var: params.n}, is: 5.0}`, true},
		{`{$eval: {$var: params.n}, is: "5"}`, false},
		{`{$eval: {$var: params.obj}, is: {x: 1}}`, true},
		{`{$eval: {$var: params.list}, is: [a, b]}`, true},
		{`{$eval: {$var: nope}, is: null}`, false},
		{`{$eval: {$var: credentials.null}, is: null}`, true},
		{`{$eval: {$var: params.region}, is: {$var: params.region}}`, true},
		{`{$eval: {$var: params.region}, isNot: us}`, true},
		{`{$eval: {$var: params.region}, isNot: eu}`, false},
		{`{$eval: {$var: params.region}, oneOf: [us, eu]}`, true},
		{`{$eval: {$var: params.region}, oneOf: [us, ap]}`, false},
		{`{$eval: a, oneOf: {$var: params.list}}`, true},
		{`{$eval: {$var: params.region}, noneOf: [us, ap]}`, true},
		{`{$eval: {$var: params.region}, noneOf: [us, eu]}`, false},
		{`{$eval: {$var: params.word}, contains: ppl}`, true},
		{`{$eval: {$var: params.word}, contains: xyz}`, false},
		{`{$eval: {$var: params.list}, contains: b}`, true},
		{`{$eval: {$var: params.list}, contains: c}`, false},
		{`{$eval: {$var: nope}, contains: c}`, false},
		{`{$eval: {$var: params.word}, doesNotContain: xyz}`, true},
		{`{$eval: {$var: params.list}, doesNotContain: a}`, false},
		{`{$eval: {$var: params.n}, gt: 4}`, true},
		{`{$eval: {$var: params.n}, gt: 5}`, false},
		{`{$eval: {$var: params.nstr}, gt: 9}`, true},
		{`{$eval: {$var: params.nstr}, gt: "9"}`, true},
		{`{$eval: {$var: params.n}, gte: 5}`, true},
		{`{$eval: {$var: params.f}, lt: 3}`, true},
		{`{$eval: {$var: params.f}, lt: 2.5}`, false},
		{`{$eval: {$var: params.f}, lte: 2.5}`, true},
		{`{$eval: {$var: params.word}, gt: 5}`, false},
		{`{$eval: b, gt: a}`, true},
		{`{$eval: {$var: nope}, lt: 5}`, false},
		{`{$eval: {$var: nope}, isEmpty: true}`, true},
		{`{$eval: {$var: credentials.null}, isEmpty: true}`, true},
		{`{$eval: {$var: credentials.empty}, isEmpty: true}`, true},
		{`{$eval: {$var: params.emptyList}, isEmpty: true}`, true},
		{`{$eval: {$var: params.emptyObj}, isEmpty: true}`, true},
		{`{$eval: {$var: params.n}, isEmpty: true}`, false},
		{`{$eval: {$var: params.word}, isNotEmpty: true}`, true},
		{`{$eval: {$var: params.emptyList}, isNotEmpty: true}`, false},
	}
	for _, tc := range tests {
		got := evalYAML(t, tc.src, testVars())
		if got != tc.want {
			t.Errorf("%s = %v, want %v", tc.src, got, tc.want)
		}
	}
}

func TestEvalProblems(t *testing.T) {
	tests := []struct{ src, want string }{
		{`{$eval: 1}`, "$eval needs one operator"},
		{`{$eval: 1, iss: 1}`, `unknown $eval operator "iss"; did you mean is?`},
		{`{$eval: 1, is: 1, gt: 0}`, "$eval has several operators"},
		{`{$eval: 1, oneOf: 1}`, "expects a list"},
	}
	for _, tc := range tests {
		m, problems := compileYAMLProblems(t, tc.src)
		if m != nil || !hasProblem(problems, SeverityError, tc.want) {
			t.Errorf("%s: got %v, want error containing %q", tc.src, problems, tc.want)
		}
	}
}

func hasProblem(problems []Problem, sev Severity, substr string) bool {
	for _, p := range problems {
		if p.Severity == sev && strings.Contains(p.Message, substr) {
			return true
		}
	}
	return false
}

func TestAndOr(t *testing.T) {
	runEvalCases(t, []evalCase{
		{"and true", `{$and: [true, {$eval: {$var: params.n}, gt: 1}]}`, true},
		{"and false", `{$and: [true, {$var: nope}]}`, false},
		{"and empty", `{$and: []}`, true},
		{"or true", `{$or: [false, {$eval: {$var: params.region}, is: eu}]}`, true},
		{"or false", `{$or: [false, 0, ""]}`, false},
		{"or empty", `{$or: []}`, false},
	})
}

func TestMap(t *testing.T) {
	runEvalCases(t, []evalCase{
		{"match", `{$map: {value: {$var: params.region}, mapping: [{from: us, to: 1}, {from: eu, to: 2}], default: 0}}`, int64(2)},
		{"mappings alias", `{$map: {value: {$var: params.region}, mappings: [{from: eu, to: Europe}]}}`, "Europe"},
		{"default", `{$map: {value: {$var: params.region}, mapping: [{from: us, to: 1}], default: 0}}`, int64(0)},
		// The reference (console.integration.app/docs/membrane/references/formulas,
		// "$map"): no match and no default leaves the output empty; the unmapped
		// value must not leak through.
		{"no match, no default: empty", `{$map: {value: {$var: params.region}, mapping: [{from: us, to: 1}]}}`, nil},
		{"explicit null default", `{$map: {value: x, mapping: [{from: y, to: 1}], default: null}}`, nil},
		{"numbers across types", `{$map: {value: {$var: params.n}, mapping: [{from: 5, to: five}]}}`, "five"},
		{"undefined value without default", `{$map: {value: {$var: nope}, mapping: [{from: a, to: b}]}}`, nil},
	})
}

func TestIterate(t *testing.T) {
	runEvalCases(t, []evalCase{
		{"objects", `{$iterate: {source: {$var: items}, item: {key: {$var: $.item.id}, label: {$var: item.name}}}}`,
			[]any{map[string]any{"key": 1, "label": "A"}, map[string]any{"key": 2, "label": "B"}}},
		{"scalars", `{$iterate: {source: {$var: params.list}, item: {$concat: [x-, {$var: $.item}]}}}`, []any{"x-a", "x-b"}},
		{"null source", `{$iterate: {source: null, item: {$var: $.item}}}`, nil},
		{"missing source", `{$iterate: {source: {$var: nope}, item: {$var: $.item}}}`, nil},
		{"empty source", `{$iterate: {source: {$var: params.emptyList}, item: {$var: $.item}}}`, []any{}},
		{"undefined items dropped", `{$iterate: {source: {$var: items}, item: {$var: $.item.missing}}}`, nil},
		{"typed slice", `{$iterate: {source: {$var: typed}, item: {$var: $.item}}}`, []any{"s0", "s1"}},
	})
}

func TestMergeObjects(t *testing.T) {
	runEvalCases(t, []evalCase{
		{"later wins", `{$mergeObjects: [{a: 1, b: 1}, {b: 2}, 5, {$var: nope}, {$var: params.obj}]}`,
			map[string]any{"a": int64(1), "b": int64(2), "x": int64(1)}},
		{"no objects", `{$mergeObjects: [1, "x"]}`, nil},
		{"map[string]string", `{$mergeObjects: [{$var: strs}]}`, map[string]any{"k": "v"}},
	})
}

func TestPlain(t *testing.T) {
	runEvalCases(t, []evalCase{
		{"keeps formulas", `{$plain: {$var: credentials.access_token}}`, map[string]any{"$var": "credentials.access_token"}},
		{"scalar", `{$plain: "{x}"}`, "{x}"},
		{"keeps empties", `{$plain: {a: [], b: null, c: {$concat: []}}}`,
			map[string]any{"a": []any{}, "b": nil, "c": map[string]any{"$concat": []any{}}}},
	})
	m := compileYAML(t, `{$plain: {a: [1]}}`)
	if !m.IsConstant() {
		t.Error("a $plain mapping should be constant")
	}
	first, _ := m.Evaluate(nil)
	first.(map[string]any)["a"].([]any)[0] = "mutated"
	second, _ := m.Evaluate(nil)
	if second.(map[string]any)["a"].([]any)[0] != int64(1) {
		t.Error("mutating a result changed the next evaluation")
	}
}

func TestUndefinedDropping(t *testing.T) {
	runEvalCases(t, []evalCase{
		{"dropped key", `{a: {$var: nope}, b: 1}`, map[string]any{"b": int64(1)}},
		{"dropped array item", `[1, {$var: nope}, 2]`, []any{int64(1), int64(2)}},
		{"emptied object is dropped", `{a: {x: {$var: nope}}, b: 1}`, map[string]any{"b": int64(1)}},
		{"emptied array is dropped", `{a: [{$var: nope}], b: 1}`, map[string]any{"b": int64(1)}},
		{"literal empties are kept", `{a: {}, b: [], c: null}`, map[string]any{"a": map[string]any{}, "b": []any{}, "c": nil}},
		{"emptied root is nil", `{a: {b: {$var: nope}}}`, nil},
		{"top-level undefined is nil", `{$var: nope}`, nil},
		{"null from variable kept", `{a: {$var: credentials.null}}`, map[string]any{"a": nil}},
		{"empty string kept", `{a: {$var: credentials.empty}}`, map[string]any{"a": ""}},
		{"nested emptying cascades", `{a: [{b: {$var: nope}}], c: {d: [[]]}}`, map[string]any{"c": map[string]any{"d": []any{[]any{}}}}},
	})
}

func TestUnknownFormula(t *testing.T) {
	tests := []struct{ src, want string }{
		{`{a: {$concatt: [a]}}`, "unknown formula $concatt; did you mean $concat?"},
		{`{$Var: x}`, "unknown formula $Var; did you mean $var?"},
		{`{$firstnotempty: [a]}`, "did you mean $firstNotEmpty?"},
		{`{$zzzzzzzz: 1}`, "unknown formula $zzzzzzzz"},
		{`{$lookup: {query: {}}}`, "formula $lookup is not supported"},
	}
	for _, tc := range tests {
		m, problems := compileYAMLProblems(t, tc.src)
		if m != nil || !hasProblem(problems, SeverityError, tc.want) {
			t.Errorf("%s: got %v, want error containing %q", tc.src, problems, tc.want)
		}
	}
	_, problems := compileYAMLProblems(t, "a:\n  b:\n    $concatt: [x]\n")
	if len(problems) != 1 || problems[0].Line != 3 || problems[0].Column != 5 || problems[0].Path != "/a/b/$concatt" {
		t.Errorf("position: got %+v", problems)
	}
	if strings.Contains(fmt.Sprint(problems), "did you mean") != true {
		t.Errorf("no suggestion in %v", problems)
	}
	// Keys of ordinary objects are literal, even when they start with $.
	got := evalYAML(t, `{a: 1, $var: x, $other: 2}`, nil)
	want := map[string]any{"a": int64(1), "$var": "x", "$other": int64(2)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("literal $ keys: got %v", got)
	}
	_, problems = compileYAMLProblems(t, `{a: 1, $var: x}`)
	if !hasProblem(problems, SeverityWarning, "not the first key") {
		t.Errorf("want warning about a formula key that is not first, got %v", problems)
	}
}

func TestProblemPaths(t *testing.T) {
	_, problems := compileYAMLProblems(t, `
headers:
  Authorization:
    $concat: ["Bearer ", {$var: "a..b"}]
`)
	if len(problems) != 1 {
		t.Fatalf("got %v", problems)
	}
	p := problems[0]
	if p.Path != "/headers/Authorization/$concat/1/$var" || p.Line != 4 || p.Severity != SeverityError {
		t.Errorf("got %+v", p)
	}
	if s := p.String(); !strings.HasPrefix(s, "4:") || !strings.Contains(s, "error: ") {
		t.Errorf("String() = %q", s)
	}
	_, problems = compileYAMLProblems(t, `{"a/b~c": {$var: 1}}`)
	if len(problems) != 1 || problems[0].Path != "/a~1b~0c/$var" {
		t.Errorf("escaped pointer: got %+v", problems)
	}
}

func TestCopy(t *testing.T) {
	runEvalCases(t, []evalCase{
		{"sibling after", `{a: {$copy: b}, b: {$var: params.region}}`, map[string]any{"a": "eu", "b": "eu"}},
		{"sibling before", `{b: 1, a: {$copy: b}}`, map[string]any{"a": int64(1), "b": int64(1)}},
		{"chain", `{a: {$copy: b}, b: {$copy: c}, c: x}`, map[string]any{"a": "x", "b": "x", "c": "x"}},
		{"path into sibling", `{a: {$copy: b.c}, b: {c: [1]}}`, map[string]any{"a": []any{int64(1)}, "b": map[string]any{"c": []any{int64(1)}}}},
		{"inside a formula", `{a: {$concat: [{$copy: b}, "!"]}, b: hi}`, map[string]any{"a": "hi!", "b": "hi"}},
		{"undefined sibling", `{a: {$copy: b}, b: {$var: nope}, c: 1}`, map[string]any{"c": int64(1)}},
		{"inside iterate item", `{$iterate: {source: {$var: items}, item: {id: {$var: $.item.id}, again: {$copy: id}}}}`,
			[]any{map[string]any{"id": 1, "again": 1}, map[string]any{"id": 2, "again": 2}}},
	})
	tests := []struct{ src, want string }{
		{`{a: {$copy: a}}`, `$copy of field "a" reads itself`},
		{`{a: {$copy: a.b}}`, `reads itself`},
		{`{a: {$copy: b}, b: {$copy: a}}`, `$copy cycle: "a" -> "b" -> "a"`},
		{`{x: 1, a: {$copy: b}, b: {$copy: c}, c: {$concat: [{$copy: a}]}}`, `$copy cycle: "a" -> "b" -> "c" -> "a"`},
		{`{$copy: a}`, "$copy must be inside an object"},
	}
	for _, tc := range tests {
		m, problems := compileYAMLProblems(t, tc.src)
		if m != nil || !hasProblem(problems, SeverityError, tc.want) {
			t.Errorf("%s: got %v, want error containing %q", tc.src, problems, tc.want)
		}
	}
	_, problems := compileYAMLProblems(t, `{email: 1, a: {$copy: emial}}`)
	if !hasProblem(problems, SeverityWarning, `did you mean email?`) {
		t.Errorf("unknown sibling: got %v", problems)
	}
}

func TestCopyLongChainNoStackGrowth(t *testing.T) {
	// A chain of 50,000 copies is ordered iteratively.
	const n = 50_000
	m := map[string]any{}
	for i := range n {
		m[fmt.Sprintf("k%06d", i)] = map[string]any{"$copy": fmt.Sprintf("k%06d", i+1)}
	}
	m[fmt.Sprintf("k%06d", n)] = "end"
	mp, problems := CompileValue(m)
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems[:1])
	}
	got, err := mp.Evaluate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.(map[string]any)["k000000"] != "end" {
		t.Errorf("chain result %v", got.(map[string]any)["k000000"])
	}
}

func TestExpr(t *testing.T) {
	runEvalCases(t, []evalCase{
		{"arithmetic", `{$expr: "params.n * 2 + 1"}`, 11},
		{"string", `{$expr: "'Bearer ' + credentials.access_token"}`, "Bearer tok"},
		{"unknown variable is undefined", `{a: {$expr: "nope"}, b: 1}`, map[string]any{"b": int64(1)}},
		{"optional chaining", `{$expr: "nope?.deeper ?? 'dflt'"}`, "dflt"},
		{"inside iterate", `{$iterate: {source: {$var: items}, item: {$expr: "item.name + '!'"}}}`, []any{"A!", "B!"}},
	})
	m, problems := compileYAMLProblems(t, "a:\n  b: {$expr: \"1 +\"}\n")
	if m != nil || len(problems) != 1 {
		t.Fatalf("got %v", problems)
	}
	// A block scalar's text position is unknown: the problem stays at the
	// formula and says where in the expression.
	_, blockProblems := compileYAMLProblems(t, "a:\n  $expr: |\n    1 +\n    }\n")
	if len(blockProblems) != 1 || blockProblems[0].ExprLine == 0 || !strings.Contains(blockProblems[0].Message, "of the expression") {
		t.Errorf("block scalar problem: %+v", blockProblems)
	}
	if m != nil || len(problems) != 1 {
		t.Fatalf("got %v", problems)
	}
	p := problems[0]
	// The error points into the YAML line itself: the "+" after the quote.
	if p.Line != 2 || p.Column != 17 || p.ExprLine != 1 || p.ExprColumn != 3 || p.Path != "/a/b/$expr" || !strings.Contains(p.Message, "unexpected token EOF") {
		t.Errorf("compile error problem: %+v", p)
	}
	m = compileYAML(t, `{a: {b: {$expr: "missing.field"}}}`)
	_, err := m.Evaluate(nil)
	var ee *EvalError
	if !errors.As(err, &ee) || ee.Path != "/a/b/$expr" || !strings.Contains(err.Error(), "/a/b/$expr") {
		t.Errorf("runtime error: %v", err)
	}
}

func TestReferences(t *testing.T) {
	m := compileYAML(t, `
a: {$var: credentials.access_token}
b: {$var: "$.connectionParameters.region"}
c: {$expr: "let x = 1; credentails.token + x + len(input?.name) + string(other)"}
d:
  $iterate:
    source: {$var: items}
    item: {$var: $.item.id}
e: {$var: $}
`)
	var got []string
	for _, r := range m.References() {
		got = append(got, r.Root+"|"+r.Locator)
	}
	want := []string{
		"credentials|credentials.access_token",
		"connectionParameters|$.connectionParameters.region",
		"credentails|credentails.token",
		"input|input.name",
		"other|other",
		"items|items",
		"|$",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("References()\ngot  %q\nwant %q", got, want)
	}
	if r := m.References()[0]; r.Line != 2 || r.Column != 5 {
		t.Errorf("position of first reference: %+v", r)
	}
	if m.IsConstant() {
		t.Error("a mapping with $var is not constant")
	}
	if !compileYAML(t, `{a: [1, {b: c}]}`).IsConstant() {
		t.Error("a literal mapping is constant")
	}
}

func TestCompileValue(t *testing.T) {
	m, problems := CompileValue(map[string]any{
		"auth": map[string]any{"$concat": []any{"Bearer ", map[string]any{"$var": "credentials.access_token"}}},
		"cond": map[string]any{"is": "eu", "$eval": map[string]any{"$var": "params.region"}},
		"n":    3,
		"tags": []string{"x"},
	})
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	got, err := m.Evaluate(testVars())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"auth": "Bearer tok", "cond": true, "n": int64(3), "tags": []any{"x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v", got)
	}
	_, problems = CompileValue(map[string]any{"a": make(chan int)})
	if !hasProblem(problems, SeverityError, "unsupported value") || problems[0].Path != "/a" {
		t.Errorf("unsupported: %v", problems)
	}
}

func TestDeepNesting(t *testing.T) {
	const depth = 10_000
	src := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err == nil {
		if _, problems := Compile(&doc); !hasProblem(problems, SeverityError, "nested more than") {
			t.Errorf("yaml nesting: %v", problems)
		}
	}
	// Build the node tree directly, in case the YAML parser refuses the depth.
	root := &yaml.Node{Kind: yaml.SequenceNode}
	cur := root
	for range depth {
		next := &yaml.Node{Kind: yaml.MappingNode}
		cur.Content = append(cur.Content, next)
		next.Content = []*yaml.Node{{Kind: yaml.ScalarNode, Value: "$concat"}, {Kind: yaml.SequenceNode}}
		cur = next.Content[1]
	}
	if m, problems := Compile(root); m != nil || !hasProblem(problems, SeverityError, "nested more than") {
		t.Errorf("node nesting: %v", problems)
	}
	var v any = "leaf"
	for range depth {
		v = []any{v}
	}
	if m, problems := CompileValue(v); m != nil || !hasProblem(problems, SeverityError, "nested more than") {
		t.Errorf("value nesting: %v", problems)
	}
	// A cyclic Go value is bounded by the same limit.
	cyc := map[string]any{}
	cyc["self"] = cyc
	if _, problems := CompileValue(cyc); !hasProblem(problems, SeverityError, "nested more than") {
		t.Errorf("cyclic value: %v", problems)
	}
}

func TestAliases(t *testing.T) {
	got := evalYAML(t, `
defaults: &d {Accept: application/json, X-Token: {$var: credentials.access_token}}
headers:
  <<: *d
  Accept: text/plain
copy: *d
`, testVars())
	want := map[string]any{
		"defaults": map[string]any{"Accept": "application/json", "X-Token": "tok"},
		"headers":  map[string]any{"Accept": "text/plain", "X-Token": "tok"},
		"copy":     map[string]any{"Accept": "application/json", "X-Token": "tok"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	bomb := `
a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
`
	m, problems := compileYAMLProblems(t, bomb)
	if m != nil || !hasProblem(problems, SeverityError, "after expanding aliases") {
		t.Errorf("alias bomb: %v", problems)
	}
}

func TestFormulaArgumentProblems(t *testing.T) {
	tests := []struct {
		src  string
		sev  Severity
		want string
	}{
		{`{$var: 5}`, SeverityError, "$var expects a locator string"},
		{`{$var: [a]}`, SeverityError, "$var expects a locator string"},
		{`{$tpl: "x"}`, SeverityError, "$tpl expects an object"},
		{`{$tpl: {values: {}}}`, SeverityError, "$tpl needs template"},
		{`{$tpl: {template: "{nmae}", values: {name: 1}}}`, SeverityWarning, "did you mean name?"},
		{`{$case: {cases: [{filter: {field: a, operator: is, value: 1}, value: 1}]}}`, SeverityError, "filter must be a list of {field, operator, value} conditions"},
		{`{$case: {cases: x}}`, SeverityError, "cases must be a list"},
		{`{$case: {cases: [], defualt: 1}}`, SeverityWarning, `ignores key "defualt"; did you mean default?`},
		{`{$map: {value: 1}}`, SeverityError, "$map needs mapping"},
		{`{$iterate: {source: []}}`, SeverityError, "$iterate needs source and item"},
		{`{$concat: "abc"}`, SeverityError, "$concat expects a list"},
		{`{$and: {a: 1}}`, SeverityError, "$and expects a list"},
		{`{$expr: 1}`, SeverityError, "$expr expects an expression string"},
		{`{$var: x, extra: 1}`, SeverityWarning, `key "extra" next to $var is ignored`},
	}
	for _, tc := range tests {
		_, problems := compileYAMLProblems(t, tc.src)
		if !hasProblem(problems, tc.sev, tc.want) {
			t.Errorf("%s: got %v, want %v containing %q", tc.src, problems, tc.sev, tc.want)
		}
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	m := compileYAML(t, makeAPIClientYAML+`
list: {$iterate: {source: {$var: items}, item: {id: {$var: $.item.id}, copy: {$copy: id}}}}
plain: {$plain: {a: [1]}}
`)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			region := "eu"
			if g%2 == 1 {
				region = "us"
			}
			vars := map[string]any{
				"credentials":          map[string]any{"access_token": fmt.Sprint("t", g)},
				"connectionParameters": map[string]any{"region": region, "accountId": g},
				"items":                []any{map[string]any{"id": g}},
			}
			for range 200 {
				got, err := m.Evaluate(vars)
				if err != nil {
					errs <- err
					return
				}
				out := got.(map[string]any)
				out["plain"].(map[string]any)["a"] = nil // results are the caller's to change
				wantBase := "https://api.eu.example.com/v2"
				if region == "us" {
					wantBase = "https://api.example.com/v2"
				}
				auth := out["headers"].(map[string]any)["Authorization"]
				if out["baseUri"] != wantBase || auth != fmt.Sprint("Bearer t", g) {
					errs <- fmt.Errorf("goroutine %d: got %v", g, out)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMakeAPIClientMapping(t *testing.T) {
	got := evalYAML(t, makeAPIClientYAML, map[string]any{
		"credentials":          map[string]any{"access_token": "abc"},
		"connectionParameters": map[string]any{"region": "us"},
	})
	want := map[string]any{
		"baseUri": "https://api.example.com/v2",
		"headers": map[string]any{"Authorization": "Bearer abc"},
		"query":   map[string]any{"api_version": "2024-01"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v", got)
	}
}

func TestKnownFormulas(t *testing.T) {
	names := KnownFormulas()
	for _, want := range []string{"$var", "$tpl", "$concat", "$firstNotEmpty", "$case", "$eval", "$and", "$or", "$map", "$iterate", "$mergeObjects", "$copy", "$plain", "$expr"} {
		if !strings.Contains(strings.Join(names, " ")+" ", want+" ") {
			t.Errorf("KnownFormulas() lacks %s", want)
		}
	}
}

func TestNilMapping(t *testing.T) {
	var m *Mapping
	if _, err := m.Evaluate(nil); err == nil {
		t.Error("Evaluate on nil Mapping should fail")
	}
	got, problems := Compile(nil)
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	if v, err := got.Evaluate(nil); v != nil || err != nil {
		t.Errorf("nil node: %v %v", v, err)
	}
}

func TestEvaluationBounds(t *testing.T) {
	cyc := []any{nil, nil}
	cyc[0], cyc[1] = cyc, cyc
	vars := map[string]any{"cycle": cyc}

	// 30 nested $iterate over a self-referencing array would visit 2^30 elements.
	item := `{$var: "$.item[0]"}`
	for range 30 {
		item = `{$iterate: {source: {$var: $.item}, item: ` + item + `}}`
	}
	m := compileYAML(t, `{$iterate: {source: {$var: cycle}, item: `+item+`}}`)
	_, err := m.Evaluate(vars)
	var ee *EvalError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "visited more than") {
		t.Errorf("nested iteration over a cycle: %v", err)
	}

	// Comparing self-referencing values ends, and is not equal.
	m = compileYAML(t, `{$eval: {$var: cycle}, is: {$var: cycle}}`)
	if got, err := m.Evaluate(vars); err != nil || got != false {
		t.Errorf("cyclic comparison: %v %v", got, err)
	}
	// Its string form is empty rather than endless.
	m = compileYAML(t, `{$concat: [a, {$var: cycle}]}`)
	if got, err := m.Evaluate(vars); err != nil || got != "a" {
		t.Errorf("cyclic string form: %v %v", got, err)
	}
}
