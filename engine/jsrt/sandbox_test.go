package jsrt

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSandboxHasNoHostAccess(t *testing.T) {
	src := `export default () => ({
  process: typeof process, require: typeof require, xhr: typeof XMLHttpRequest,
  eval: typeof eval, fnProcess: Function('return typeof process')(), global: typeof global,
  setTimeout: typeof setTimeout,
})`
	p := mustCompile(t, "m.js", src)
	modes(t, func(t *testing.T, o Options) {
		got, err := p.Call(context.Background(), nil, o)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range got.(map[string]any) {
			if k == "require" {
				continue // the module wrapper's own require, which only knows the SDK and axios
			}
			if v != "undefined" {
				t.Errorf("typeof %s = %v, want undefined", k, v)
			}
		}
	})
	for _, spec := range []string{"fs", "child_process", "./x", "@integration-app/sdkx"} {
		_, err := mustCompile(t, "m.js", "export default (i) => require(i.spec)").Call(context.Background(), map[string]any{"spec": spec})
		if err == nil || !strings.Contains(err.Error(), spec) {
			t.Errorf("require(%q) = %v, want an error naming it", spec, err)
		}
	}
}

func TestTimeoutStopsLoops(t *testing.T) {
	for _, src := range []string{
		"export default () => { for (;;) {} }",
		"export default () => { while (true) {} }",
		"export default async () => { await null; for (;;) {} }",
		"export default () => { let s = 0; for (;;) { try { s++ } catch (e) {} } }",
	} {
		p := mustCompile(t, "m.js", src)
		modes(t, func(t *testing.T, o Options) {
			o.Timeout = 50 * time.Millisecond
			start := time.Now()
			_, err := p.Call(context.Background(), nil, o)
			if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s: err = %v, want ErrTimeout", src, err)
			}
			checkElapsed(t, start, time.Second, "stopped")
		})
	}
}

func TestContextCancellationStopsCall(t *testing.T) {
	p := mustCompile(t, "m.js", "export default () => { for (;;) {} }")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	_, err := p.Call(ctx, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// The pool must not hand out a runtime that is still interrupted.
	if got, err := mustCompile(t, "m.js", "export default () => 7").Call(context.Background(), nil); err != nil || got != int64(7) {
		t.Fatalf("next call: %v, %v", got, err)
	}
}

func TestInfiniteRecursion(t *testing.T) {
	p := mustCompile(t, "m.js", "function f(n) { return f(n + 1) + 1 }\nexport default () => f(0)")
	modes(t, func(t *testing.T, o Options) {
		_, err := p.Call(context.Background(), nil, o)
		if !errors.Is(err, ErrStackOverflow) {
			t.Fatalf("err = %v, want ErrStackOverflow", err)
		}
	})
}

func TestMemoryGuards(t *testing.T) {
	tests := map[string]string{
		"repeat":            "'abc'.repeat(1e8)",
		"padStart":          "'x'.padStart(1e9)",
		"padEnd":            "'x'.padEnd(1e9, 'yz')",
		"concat":            "const s = 'x'.repeat(1 << 20); return s.concat(...Array(20).fill(s))",
		"Array(n)":          "Array(1e9)",
		"new Array(n)":      "new Array(1e9)",
		"constructor(n)":    "new ([].constructor)(1e9)",
		"fill":              "const a = []; a.length = 1e9; return a.fill(0)",
		"length assignment": "const a = [1]; a.length = 1e9; return a.indexOf(2)",
		"sparse index":      "const a = []; a[1e9] = 1; return a.includes(2)",
		"array-like call":   "Array.prototype.indexOf.call({ length: 1e15 }, 1)",
		"join":              "const a = []; a.length = 1e7; return a.join('x'.repeat(100))",
		"spread":            "const a = []; a.length = 1e9; return [...a].length",
		"apply":             "Math.max.apply(null, { length: 1e9 })",
		"Array.from":        "Array.from({ length: 1e9 })",
		"ArrayBuffer":       "new ArrayBuffer(1e10)",
		"Uint8Array":        "new Uint8Array(1e10)",
		"Float64Array":      "new Float64Array(1e9)",
		"typed from":        "Int32Array.from({ length: 1e9 })",
	}
	for name, expr := range tests {
		t.Run(name, func(t *testing.T) {
			body := expr
			if !strings.Contains(body, "return") {
				body = "return " + body
			}
			p := mustCompile(t, "m.js", "export default () => { "+body+" }")
			modes(t, func(t *testing.T, o Options) {
				start := time.Now()
				_, err := p.Call(context.Background(), nil, o)
				var je *Error
				if !errors.Is(err, ErrMemoryLimit) || !errors.As(err, &je) || je.Name != "RangeError" || !strings.Contains(je.Message, "exceed") {
					t.Fatalf("err = %v, want a RangeError that is ErrMemoryLimit", err)
				}
				// Refused before the work: walking or filling 1e9 elements
				// takes goja far longer.
				checkElapsed(t, start, time.Second, "refused only")
			})
		})
	}
}

func TestMemoryGuardLimitsAreOptions(t *testing.T) {
	p := mustCompile(t, "m.js", "export default () => 'ab'.repeat(600).length")
	if got, err := p.Call(context.Background(), nil); err != nil || got != int64(1200) {
		t.Fatalf("default limits: %v, %v", got, err)
	}
	if _, err := p.Call(context.Background(), nil, Options{MaxStringLength: 1000}); !errors.Is(err, ErrMemoryLimit) {
		t.Fatalf("MaxStringLength 1000: err = %v", err)
	}
}

func TestUnboundedGrowthIsStopped(t *testing.T) {
	for _, src := range []string{
		"export default () => { let s = 'x'; for (;;) s += s }",
		"export default () => { const a = []; for (;;) a.push('y'.repeat(1 << 16) + a.length) }",
	} {
		p := mustCompile(t, "m.js", src)
		// A small limit keeps the test quick under the race detector, where
		// copying strings is slow; the timeout is not what is tested.
		_, err := p.Call(context.Background(), nil, Options{Timeout: time.Minute, MaxHeapGrowth: 16 << 20})
		if !errors.Is(err, ErrMemoryLimit) {
			t.Errorf("%s: err = %v, want ErrMemoryLimit", src, err)
		}
	}
}

func TestPooledRuntimesDoNotLeakState(t *testing.T) {
	writer := mustCompile(t, "w.js", `export default ({ secret }) => {
  const targets = [Object.prototype, Array.prototype, Function.prototype, Error.prototype, JSON, Math, Promise,
    Object.getPrototypeOf(function* () {}), Object.getPrototypeOf([][Symbol.iterator]()), Object.getPrototypeOf(async () => {})]
  let blocked = 0
  for (const t of targets) { try { t.leak = secret } catch (e) { blocked++ } }
  globalThis.leak = secret
  try { Object.defineProperty(globalThis, 'hidden', { value: secret }) } catch (e) {}
  try { JSON.stringify = () => secret } catch (e) { blocked++ }
  return blocked
}`)
	reader := mustCompile(t, "r.js", `export default () => {
  const found = []
  const probe = (name, v) => { if (v !== undefined) found.push(name) }
  probe('Object.prototype', ({}).leak); probe('Array.prototype', [].leak); probe('Function.prototype', (() => 0).leak)
  probe('Error.prototype', new Error().leak); probe('JSON', JSON.leak); probe('Math', Math.leak); probe('Promise', Promise.leak)
  probe('generator', (function* () {}).leak); probe('iterator', [][Symbol.iterator]().leak)
  probe('global', globalThis.leak); probe('hidden', globalThis.hidden)
  if (JSON.stringify(1) !== '1') found.push('JSON.stringify')
  return found
}`)
	for range 20 {
		if _, err := writer.Call(context.Background(), map[string]any{"secret": "s3cr3t"}); err != nil {
			t.Fatal(err)
		}
		got, err := reader.Call(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.([]any)) > 0 {
			t.Fatalf("state leaked through %v", got)
		}
	}
}

func TestPooledRuntimeKeepsCommonPatternsWorking(t *testing.T) {
	src := `class ApiError extends Error {
  constructor(message, status) { super(message); this.name = 'ApiError'; this.status = status }
  toString() { return 'custom' }
}
function Legacy() {}
Legacy.prototype.toString = function () { return 'legacy' }
export default () => {
  const e = new ApiError('m', 401)
  const o = {}; o.toString = () => 'own'; o.constructor = 'c'
  return [e.name, e.status, String(e), String(new Legacy()), String(o), o.constructor, [3, 1, 2].sort().join(',')]
}`
	got, err := mustCompile(t, "m.js", src).Call(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "[ApiError 401 custom legacy own c 1,2,3]"
	if s := strings.TrimSpace(strings.ReplaceAll(fmtAny(got), "\n", "")); s != want {
		t.Errorf("got %s, want %s", s, want)
	}
}
