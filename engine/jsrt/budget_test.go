package jsrt

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// budgetOptions keep the output budget small, so that on code without the
// budget these cases allocate tens of MiB and fail their assertion instead
// of taking the process down.
func budgetOptions(o Options) Options {
	o.MaxStringLength = 1 << 20
	o.MaxArrayLength = 1 << 16
	return o
}

// TestOutputBudget: a built-in that would make far more than it was given
// is refused before it allocates, with a RangeError that unwraps to
// ErrMemoryLimit.
func TestOutputBudget(t *testing.T) {
	tests := map[string]string{
		"join of one string many times":     `const s = "x".repeat(1 << 16); return new Array(1024).fill(s).join("")`,
		"join through toString":             `const s = "x".repeat(1 << 16); return String(new Array(1024).fill(s))`,
		"join of objects":                   `const o = { toString() { return "x".repeat(1 << 16) } }; return new Array(1024).fill(o).join()`,
		"toLocaleString":                    `const s = "x".repeat(1 << 16); return new Array(1024).fill(s).toLocaleString()`,
		"regexp replace":                    `return "x".repeat(4096).replace(/x/g, "y".repeat(4096))`,
		"regexp replace prefix":             "return 'x'.repeat(4096).replace(/x/g, '$\\x60')",
		"regexp replace function":           `const s = "y".repeat(1 << 16); return "x".repeat(4096).replace(/x/g, () => s)`,
		"string replace prefix":             "return 'x'.repeat(1 << 16).replace('x', '$\\x27'.repeat(64))",
		"string replaceAll":                 `return "x".repeat(4096).replaceAll("x", "y".repeat(4096))`,
		"JSON.stringify of one string":      `const s = "x".repeat(1 << 16); return JSON.stringify(new Array(1024).fill(s))`,
		"JSON.stringify of a shared object": `let o = ["x".repeat(64)]; for (let i = 0; i < 40; i++) o = [o, o]; return JSON.stringify(o)`,
		"JSON.stringify escapes":            `return JSON.stringify("\u0001".repeat(1 << 18))`,
		"concat":                            `const s = "x".repeat(1 << 16); return s.concat(...new Array(64).fill(s))`,
		"padStart":                          `return "x".padStart(1 << 24, "ab")`,
		"Array.from length":                 `return Array.from({ length: 1 << 24 })`,
		"Array.from string":                 `return Array.from("x".repeat(1 << 17))`,
		"spread of a string":                `return [..."x".repeat(1 << 17)].length`,
		"array concat":                      `const a = new Array(1 << 15).fill(0); return [].concat(a, a, a, a).length`,
		"flat":                              `const a = new Array(1 << 15).fill(0); return new Array(64).fill(a).flat().length`,
		"flatMap":                           `const a = new Array(1 << 15).fill(0); return new Array(64).fill(0).flatMap(() => a).length`,
		"String.raw":                        `return String.raw({ raw: new Array(1024).fill("x".repeat(1 << 16)) })`,
		"String.raw length":                 `return String.raw({ raw: { length: 1e9 } })`,
		"typed array join":                  `return new Uint8Array(1 << 20).join("---")`,
		"typed array spread":                `return [...new Uint8Array(1 << 20)].length`,
		"Uint8Array":                        `return new Uint8Array(1 << 24).length`,
		"Object.keys of a string":           `return Object.keys("x".repeat(1 << 17)).length`,
		"Object.entries of a typed array":   `return Object.entries(new Uint8Array(1 << 17)).length`,
		"Object.assign from a string":       `return Object.keys(Object.assign({}, "x".repeat(1 << 17))).length`,
		"split into characters":             `return "x".repeat(1 << 17).split("").length`,
		"toUpperCase":                       `return "x".repeat(1 << 19).toUpperCase()`,
		"normalize":                         `return "x".repeat(1 << 16).normalize("NFKD")`,
		"encodeURIComponent":                `return encodeURIComponent("\u00e9".repeat(1 << 18))`,
		"escape":                            `return escape("\u00e9".repeat(1 << 18))`,
		"btoa":                              `return btoa("x".repeat(1 << 20))`,
		"JSON.parse of many values":         `return JSON.parse("[" + "0,".repeat(1 << 17) + "0]").length`,
		"URLSearchParams":                   `return new URLSearchParams({ a: "\u00e9".repeat(1 << 18) }).toString()`,
		"template of a huge join":           "const s = 'x'.repeat(1 << 16); return `${new Array(1024).fill(s)}`",
		"apply with a huge argument list":   `return Math.max.apply(null, { length: 1 << 24 })`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			p := mustCompile(t, "m.js", "export default () => { "+body+" }")
			modes(t, func(t *testing.T, o Options) {
				start := time.Now()
				_, err := p.Call(context.Background(), nil, budgetOptions(o))
				var je *Error
				if !errors.Is(err, ErrMemoryLimit) || !errors.As(err, &je) || je.Name != "RangeError" || !strings.Contains(je.Message, "exceed the limit") {
					t.Fatalf("err = %v, want a RangeError that is ErrMemoryLimit", err)
				}
				checkElapsed(t, start, 3*time.Second, "refused")
			})
		})
	}
}

// TestOutputBudgetIsCatchable: the refusal is an exception the method can
// catch and go on from.
func TestOutputBudgetIsCatchable(t *testing.T) {
	p := mustCompile(t, "m.js", `export default () => {
  try { new Array(1024).fill("x".repeat(1 << 16)).join("") } catch (e) { return e.name + ": " + e.message }
}`)
	got, err := p.Call(context.Background(), nil, budgetOptions(Options{}))
	if err != nil || !strings.Contains(got.(string), "RangeError: Array.prototype.join") {
		t.Fatalf("got %v, %v", got, err)
	}
}

// TestReimplementedBuiltins: the built-ins the budget reimplements still
// give what ECMAScript says.
func TestReimplementedBuiltins(t *testing.T) {
	tests := map[string]struct {
		expr string
		want any
	}{
		"join":                 {`[1, null, undefined, "a", [2, 3]].join("-")`, "1---a-2,3"},
		"join default":         {`[1, 2].join()`, "1,2"},
		"join array-like":      {`Array.prototype.join.call({ length: 2, 0: "a", 1: "b" }, "+")`, "a+b"},
		"toString":             {`String([1, [2, 3]])`, "1,2,3"},
		"replace $ patterns":   {"'abcabc'.replace('b', '[$$|$&|$\\x60|$\\'|$1]')", "a[$|b|a|cabc|$1]cabc"},
		"replace regexp":       {`"2024-01-31".replace(/(\d+)-(\d+)-(\d+)/, "$3.$2.$1")`, "31.01.2024"},
		"replace named":        {`"2024-01".replace(/(?<y>\d+)-(?<m>\d+)/, "$<m>/$<y>")`, "01/2024"},
		"replace $10":          {`"abcdefghijk".replace(/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)/, "$11$10$1")`, "kja"},
		"replace global fn":    {`"a1b22".replace(/\d+/g, (m, off) => "<" + m + "@" + off + ">")`, "a<1@1>b<22@3>"},
		"replace empty global": {`"abc".replace(/(?:)/g, "-")`, "-a-b-c-"},
		"replace unicode":      {`"😀😀".replace(/(?:)/gu, "-")`, "-😀-😀-"},
		"replaceAll":           {`"a.b.c".replaceAll(".", "$&$&")`, "a..b..c"},
		"replaceAll empty":     {`"ab".replaceAll("", "_")`, "_a_b_"},
		"replaceAll fn":        {`"aXbX".replaceAll("X", (m, p) => p)`, "a1b3"},
		"replace not found":    {`"abc".replace("z", "y")`, "abc"},
		"String.raw":           {"String.raw`a\\n${1}b${2}`", `a\n1b2`},
		"String.raw object":    {`String.raw({ raw: ["x", "y", "z"] }, 1)`, "x1yz"},
		"flat":                 {`JSON.stringify([1, [2, [3, [4]]]].flat(2))`, "[1,2,3,[4]]"},
		"flatMap":              {`JSON.stringify([1, 2].flatMap(x => [x, [x * 2]]))`, "[1,[2],2,[4]]"},
		"split":                {`"a,b,,c".split(",").length`, int64(4)},
		"split limit":          {`"a,b,c".split(",", 2).join("|")`, "a|b"},
		"concat":               {`[1].concat([2, 3], 4).join()`, "1,2,3,4"},
		"Object.keys":          {`Object.keys("ab").join()`, "0,1"},
		"toUpperCase":          {`"straße".toUpperCase()`, "STRASSE"},
		"typed join":           {`new Uint8Array([1, 2]).join("-")`, "1-2"},
		"spread string":        {`[..."a😀"].length`, int64(2)},
		"stringify":            {`JSON.stringify({ a: [1, "x", null, undefined, () => 1], b: undefined, c: NaN, d: new Date(0), e: { toJSON(k) { return "k=" + k } } })`, `{"a":[1,"x",null,null,null],"c":null,"d":"1970-01-01T00:00:00.000Z","e":"k=e"}`},
		"stringify indent":     {`JSON.stringify({ a: [1], b: {} }, null, 2)`, "{\n  \"a\": [\n    1\n  ],\n  \"b\": {}\n}"},
		"stringify replacer":   {`JSON.stringify({ a: 1, b: 2, c: { a: 3 } }, ["a", "c"])`, `{"a":1,"c":{"a":3}}`},
		"stringify fn":         {`JSON.stringify({ a: 1, b: "x" }, (k, v) => typeof v === "number" ? v * 10 : v)`, `{"a":10,"b":"x"}`},
		"stringify escapes":    {`JSON.stringify("a\"\\\n\u0001é😀\ud800")`, `"a\"\\\n\u0001é😀\ud800"`},
		"stringify top":        {`String(JSON.stringify(undefined)) + JSON.stringify(new String("s")) + JSON.stringify(new Number(2))`, `undefined"s"2`},
		"stringify cycle":      {`(() => { const o = {}; o.o = o; try { JSON.stringify(o) } catch (e) { return e.name } })()`, "TypeError"},
		"parse":                {`JSON.parse('{"a":[1,{"b":"[{"}]}', (k, v) => typeof v === "number" ? v + 1 : v).a[0]`, int64(2)},
		"regexp exec":          {`(() => { const m = /(?<w>a+)(?=b)\1?/.exec("xaab"); return m.index + ":" + m[0] + ":" + m.groups.w })()`, "1:aa:aa"},
		"regexp global":        {`(() => { const r = /(a)\1/g; const out = []; let m; while ((m = r.exec("aaxaa")) !== null) out.push(m.index + "-" + r.lastIndex); return out.join() })()`, "0-2,3-5"},
		"regexp sticky":        {`(() => { const r = /a(?=b)/y; r.lastIndex = 1; return String(r.test("xab")) + r.lastIndex + String(r.test("xab")) })()`, "true2false"},
		"regexp match all":     {`[..."a1b2".matchAll(/(?<=[a-z])\d/g)].map(m => m[0] + m.index).join()`, "11,23"},
		"regexp split":         {`"a1b2c".split(/(?=\d)/).join("|")`, "a|1b|2c"},
		"regexp search":        {`"xxab".search(/a(?=b)/)`, int64(2)},
		"regexp unicode":       {`/(?<=😀)(.)\1/u.exec("😀éé").index`, int64(2)},
		"regexp test re2":      {`/^a+$/.test("aaa") && !/^a+$/.test("ab")`, true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p := mustCompile(t, "m.js", "export default () => "+tt.expr)
			modes(t, func(t *testing.T, o Options) {
				got, err := p.Call(context.Background(), nil, o)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %#v, want %#v", got, tt.want)
				}
			})
		})
	}
}
