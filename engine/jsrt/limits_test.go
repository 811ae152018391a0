package jsrt

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRegexpBacktrackingStopsAtTimeLimit: patterns that only a backtracking
// engine runs (backreferences, lookaround) and that backtrack
// catastrophically end with the call's time limit, whichever method runs
// them.
func TestRegexpBacktrackingStopsAtTimeLimit(t *testing.T) {
	tests := map[string]string{
		"test backreference":    `/^(?:(a+)+)\1?b$/.test("a".repeat(34))`,
		"exec lookahead":        `/^(?=(a+)+b)/.exec("a".repeat(34))`,
		"match nested":          `"a".repeat(34).match(/^(a|a?)+(?=c)$/)`,
		"matchAll lookbehind":   `[..."a".repeat(34).matchAll(/(?<=a)(?:(a+)+)\1?b/g)]`,
		"replace backreference": `"a".repeat(34).replace(/^((a+)+)\2b/, "x")`,
		"replaceAll":            `"a".repeat(34).replaceAll(/(a+)+\1c/g, "x")`,
		"split":                 `"a".repeat(34).split(/(a+)+\1c/)`,
		"search":                `"a".repeat(34).search(/(?:(a+)+)\1?b/)`,
		"RegExp constructor":    `new RegExp("^(\\w+\\s?)+\\1$").test("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!")`,
		"ignore case, unicode":  `/^(?:(a+)+)\1?b$/iu.test("A".repeat(34))`,
		"caught and retried":    `(() => { for (;;) { try { /^(?:(a+)+)\1?b$/.test("a".repeat(34)) } catch (e) {} } })()`,
		"in a replace callback": `"xx".replace(/x/g, () => String(/^(?:(a+)+)\1?b$/.test("a".repeat(34))))`,
	}
	const limit = 400 * time.Millisecond
	for name, expr := range tests {
		t.Run(name, func(t *testing.T) {
			p := mustCompile(t, "m.js", "export default () => "+expr)
			modes(t, func(t *testing.T, o Options) {
				o.Timeout = limit
				start := time.Now()
				_, err := p.Call(context.Background(), nil, o)
				if !errors.Is(err, ErrTimeout) {
					t.Fatalf("err = %v, want ErrTimeout", err)
				}
				// Unbounded, these run for hours; the slack covers regexp2's
				// 100 ms clock and a CI machine busy with other packages'
				// tests under the race detector (725 ms was seen there).
				checkElapsed(t, start, limit+time.Second, "stopped")
			})
		})
	}
	// The runtime that was stopped is not reused half-interrupted.
	got, err := mustCompile(t, "m.js", `export default () => /(a)\1/.test("aa")`).Call(context.Background(), nil)
	if err != nil || got != true {
		t.Fatalf("next call: %v, %v", got, err)
	}
}

// TestJSONDepth: JSON nested past MaxJSONDepth is a RangeError in
// JSON.parse and JSON.stringify, not a Go stack overflow that ends the
// process; results and input nested too deeply are refused as well.
func TestJSONDepth(t *testing.T) {
	tests := map[string]string{
		"parse arrays":       `JSON.parse("[".repeat(4e6) + "]".repeat(4e6))`,
		"parse objects":      `JSON.parse('{"a":'.repeat(2e5) + "1" + "}".repeat(2e5))`,
		"parse unclosed":     `JSON.parse("[".repeat(1e6))`,
		"parse non-ASCII":    `JSON.parse("[".repeat(2e5) + '"é"' + "]".repeat(2e5))`,
		"parse with reviver": `JSON.parse("[".repeat(1e4) + "]".repeat(1e4), (k, v) => v)`,
		"stringify arrays":   `(() => { let a = []; for (let i = 0; i < 1e5; i++) a = [a]; return JSON.stringify(a) })()`,
		"stringify objects":  `(() => { let o = {}; for (let i = 0; i < 1e5; i++) o = { o }; return JSON.stringify(o, null, 1) })()`,
		"stringify toJSON":   `(() => { const o = { toJSON() { return [this] } }; return JSON.stringify(o) })()`,
	}
	for name, expr := range tests {
		t.Run(name, func(t *testing.T) {
			p := mustCompile(t, "m.js", "export default () => "+expr)
			modes(t, func(t *testing.T, o Options) {
				_, err := p.Call(context.Background(), nil, o)
				var je *Error
				if !errors.As(err, &je) || je.Name != "RangeError" || !strings.Contains(je.Message, "JSON nested more than 1000 levels") {
					t.Fatalf("err = %v, want a RangeError about nesting", err)
				}
			})
		})
	}
	// Depth within the bound parses; strings full of brackets do not count.
	p := mustCompile(t, "m.js", `export default () => JSON.parse("[".repeat(1000) + '"[[[{{{"' + "]".repeat(1000)).length`)
	if got, err := p.Call(context.Background(), nil); err != nil || got != int64(1) {
		t.Fatalf("1000 levels: %v, %v", got, err)
	}
	deep := any("x")
	for range 500 {
		deep = map[string]any{"a": deep}
	}
	_, err := mustCompile(t, "m.js", `export default (i) => 1`).Call(context.Background(), deep)
	if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("deep input: %v", err)
	}
	_, err = mustCompile(t, "m.js", `export default () => { let o = {}; for (let i = 0; i < 1e5; i++) o = { o }; return o }`).Call(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("deep result: %v", err)
	}
}

// TestProtoKeysStayOwnProperties: keys named __proto__, constructor or
// prototype in input (connection input, credentials) become ordinary own
// properties, never an object's prototype.
func TestProtoKeysStayOwnProperties(t *testing.T) {
	payload := func() map[string]any {
		return map[string]any{
			"__proto__":   map[string]any{"polluted": "yes", "baseUri": "https://evil.test"},
			"constructor": map[string]any{"prototype": map[string]any{"polluted": "yes"}},
			"prototype":   map[string]any{"polluted": "yes"},
			"name":        "ok",
		}
	}
	input := map[string]any{
		"connectionInput": payload(),
		"credentials":     map[string]any{"nested": payload(), "list": []any{payload()}, "__proto__": map[string]any{"polluted": "yes"}},
		"headers":         map[string]string{"__proto__": "x"},
	}
	p := mustCompile(t, "m.js", `export default ({ connectionInput: ci, credentials: cr, headers: h }) => {
  const own = (o) => Object.getPrototypeOf(o) === Object.prototype && o.polluted === undefined && o.baseUri === undefined &&
    Object.prototype.hasOwnProperty.call(o, '__proto__') && Object.getOwnPropertyDescriptor(o, '__proto__').value.polluted === 'yes'
  return {
    ci: own(ci), cr: own(cr), nested: own(cr.nested), list: own(cr.list[0]), headers: Object.getPrototypeOf(h) === Object.prototype && typeof h.toString === 'function',
    ctor: typeof ci.constructor === 'object' && ci.constructor.prototype.polluted === 'yes' && ({}).polluted === undefined,
    roundTrip: cr,
  }
}`)
	modes(t, func(t *testing.T, o Options) {
		got, err := p.Call(context.Background(), input, o)
		if err != nil {
			t.Fatal(err)
		}
		m := got.(map[string]any)
		for _, k := range []string{"ci", "cr", "nested", "list", "headers", "ctor"} {
			if m[k] != true {
				t.Errorf("%s = %v, want true", k, m[k])
			}
		}
		rt := m["roundTrip"].(map[string]any)
		if proto, ok := rt["__proto__"].(map[string]any); !ok || proto["polluted"] != "yes" {
			t.Errorf("__proto__ key lost on the way back: %v", rt)
		}
	})
}
