package jsrt

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

func mustCompile(t testing.TB, file, src string) *Program {
	t.Helper()
	p, probs := Compile(file, []byte(src))
	if len(probs) > 0 {
		t.Fatalf("Compile: %v", probs)
	}
	return p
}

// modes runs f for the pooled (default) and the fresh-runtime mode.
func modes(t *testing.T, f func(t *testing.T, o Options)) {
	for _, m := range []struct {
		name string
		o    Options
	}{{"pooled", Options{Timeout: 10 * time.Second}}, {"fresh", Options{Timeout: 10 * time.Second, FreshRuntime: true}}} {
		t.Run(m.name, func(t *testing.T) { f(t, m.o) })
	}
}

func TestCallMakeApiClient(t *testing.T) {
	p := mustCompile(t, "make-api-client.ts", benchSource)
	modes(t, func(t *testing.T, o Options) {
		got, err := p.Call(context.Background(), benchInput, o)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"baseUri": "https://eu.example.com",
			"headers": map[string]any{"Authorization": "Bearer tok", "X-Api-Key": "a2V5"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %#v, want %#v", got, want)
		}
	})
}

func TestCallConversions(t *testing.T) {
	src := `
interface In { n: number }
export default async function ({ n, list, nested }: any) {
  const x = await Promise.resolve(n as number)
  class Point { constructor(public x: number, public y: number) {} }
  return {
    int: x + 1, float: x / 4, str: 'a' + x, yes: true, nothing: null, undef: undefined,
    fn: () => 1, arr: [1, 'b', () => 2, undefined], point: new Point(1, 2),
    date: new Date(Date.UTC(2024, 0, 2)), list, nested,
  }
}`
	p := mustCompile(t, "conv.ts", src)
	modes(t, func(t *testing.T, o Options) {
		in := map[string]any{"n": 2, "list": []any{"a", 1.5}, "nested": map[string]any{"k": []string{"v"}}}
		got, err := p.Call(context.Background(), in, o)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"int": int64(3), "float": 0.5, "str": "a2", "yes": true, "nothing": nil, "undef": nil,
			"arr": []any{int64(1), "b", nil, nil}, "point": map[string]any{"x": int64(1), "y": int64(2)},
			"date": "2024-01-02T00:00:00Z", "list": []any{"a", 1.5}, "nested": map[string]any{"k": []any{"v"}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %#v\nwant %#v", got, want)
		}
	})
}

func TestCallDoesNotModifyInput(t *testing.T) {
	p := mustCompile(t, "m.js", "export default (i) => { i.credentials.token = 'changed'; i.extra = 1; return i.credentials.token }")
	in := map[string]any{"credentials": map[string]any{"token": "orig"}}
	got, err := p.Call(context.Background(), in)
	if err != nil || got != "changed" {
		t.Fatalf("got %v, %v", got, err)
	}
	if in["credentials"].(map[string]any)["token"] != "orig" || len(in) != 1 {
		t.Errorf("input was modified: %v", in)
	}
}

func TestCallErrors(t *testing.T) {
	tests := []struct {
		name, src              string
		wantName, wantMsg, key string
		data                   any
		line                   int
	}{
		{"connection error object", "import { ConnectionError, ConnectionErrorKey } from '@integration-app/sdk'\nexport default async () => {\n  throw new ConnectionError({ message: 'expired', key: ConnectionErrorKey.ACCESS_TOKEN_EXPIRED, data: { a: 1 } })\n}",
			"ConnectionError", "expired", "access_token_expired", map[string]any{"a": int64(1)}, 3},
		{"connection error string", "import { ConnectionError } from '@integration-app/sdk'\nexport default () => { throw new ConnectionError('plain') }", "ConnectionError", "plain", "", nil, 2},
		{"defunct key", "import { ConnectionError, ConnectionErrorKey as K } from '@membranehq/sdk'\nexport default () => { throw new ConnectionError({ message: 'x', key: K.CONNECTION_IS_DEFUNCT }) }", "ConnectionError", "x", "connection_is_defunct", nil, 2},
		{"rate limit key", "import { ConnectionError, ConnectionErrorKey as K } from '@integration-app/sdk'\nexport default () => { throw new ConnectionError({ message: 'x', key: K.RATE_LIMIT_EXCEEDED }) }", "ConnectionError", "x", "rate_limit_exceeded", nil, 2},
		{"type error", "export default (i) => {\n  return i.missing.field\n}", "TypeError", "", "", nil, 2},
		{"rejection", "export default async () => {\n  await null\n  throw new RangeError('late')\n}", "RangeError", "late", "", nil, 3},
		{"subclass", "import { BadRequestError } from '@integration-app/sdk'\nclass MyError extends BadRequestError {}\nexport default () => { throw new MyError('mine') }", "MyError", "mine", "", nil, 3},
		{"custom name assignment", "class E extends Error { constructor(m) { super(m); this.name = 'Custom' } }\nexport default () => { throw new E('c') }", "Custom", "c", "", nil, 1},
		{"throw number", "export default () => { throw 42 }", "Error", "42", "", int64(42), 0},
		{"throw string", "export default () => { throw 'no token' }", "Error", "no token", "", "no token", 0},
		{"throw null", "export default () => { throw null }", "Error", "null", "", nil, 0},
		{"throw object", "export default () => { throw { a: 1 } }", "Error", "a non-Error object was thrown", "", map[string]any{"a": int64(1)}, 0},
		{"reject undefined", "export default () => Promise.reject()", "Error", "undefined", "", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, "m.ts", tt.src)
			modes(t, func(t *testing.T, o Options) {
				_, err := p.Call(context.Background(), map[string]any{}, o)
				var je *Error
				if !errors.As(err, &je) {
					t.Fatalf("err = %v (%T), want *Error", err, err)
				}
				if je.Name != tt.wantName || (tt.wantMsg != "" && je.Message != tt.wantMsg) || je.Key != tt.key || !reflect.DeepEqual(je.Data, tt.data) {
					t.Errorf("got %#v", je)
				}
				if tt.line > 0 && (je.Line != tt.line || je.File != "m.ts") {
					t.Errorf("position %s:%d, want m.ts:%d", je.File, je.Line, tt.line)
				}
			})
		})
	}
}

func TestSDKErrorClasses(t *testing.T) {
	for _, name := range []string{"BadRequestError", "ConnectionError", "AccessDeniedError", "NotFoundError", "RateLimitExceededError",
		"InternalError", "NotAuthenticatedError", "DependencyError", "UnitRunError"} {
		src := fmt.Sprintf("import { %s as E } from '@integration-app/sdk'\nexport default () => { const e = new E({ message: 'm', key: 'k' }); if (!(e instanceof Error)) return 'not an Error'; throw e }", name)
		_, err := mustCompile(t, "m.ts", src).Call(context.Background(), nil)
		var je *Error
		if !errors.As(err, &je) || je.Name != name || je.Message != "m" || je.Key != "k" {
			t.Errorf("%s: got %v", name, err)
		}
	}
	p := mustCompile(t, "m.ts", "import { ConnectionErrorKey } from '@integration-app/sdk'\nexport default () => ConnectionErrorKey")
	got, err := p.Call(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := got.(map[string]any)
	for k, v := range map[string]string{"ACCESS_TOKEN_EXPIRED": "access_token_expired", "CONNECTION_IS_DEFUNCT": "connection_is_defunct", "RATE_LIMIT_EXCEEDED": "rate_limit_exceeded", "INVALID_CREDENTIALS": "invalid_credentials"} {
		if keys[k] != v {
			t.Errorf("ConnectionErrorKey.%s = %v, want %s", k, keys[k], v)
		}
	}
}

func TestBase64Globals(t *testing.T) {
	p := mustCompile(t, "m.js", "export default () => [btoa('user:pässword'), atob('dXNlcjpw5HNzd29yZA=='), atob(' aGk ')]")
	got, err := p.Call(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{"dXNlcjpw5HNzd29yZA==", "user:p\u00e4ssword", "hi"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	_, err = mustCompile(t, "m.js", "export default () => btoa('€')").Call(context.Background(), nil)
	if err == nil {
		t.Error("btoa of a non-Latin1 string succeeded")
	}
}

func TestNeverSettlingPromise(t *testing.T) {
	p := mustCompile(t, "m.js", "export default () => new Promise(() => {})")
	modes(t, func(t *testing.T, o Options) {
		start := time.Now()
		_, err := p.Call(context.Background(), nil, o)
		if !errors.Is(err, ErrNotSettled) {
			t.Fatalf("err = %v, want ErrNotSettled", err)
		}
		checkElapsed(t, start, time.Second, "settled")
	})
}

func TestConcurrentCallsAreIsolated(t *testing.T) {
	src := `let calls = 0
export default async ({ credentials }) => {
  calls++
  const seen = globalThis.lastToken
  globalThis.lastToken = credentials.token
  await null
  return { token: credentials.token, seen: seen === undefined ? null : seen, calls }
}`
	p := mustCompile(t, "m.js", src)
	modes(t, func(t *testing.T, o Options) {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok := fmt.Sprintf("secret-%d", i)
				for range 5 {
					got, err := p.Call(context.Background(), map[string]any{"credentials": map[string]any{"token": tok}}, o)
					if err != nil {
						errs <- err
						return
					}
					want := map[string]any{"token": tok, "seen": nil, "calls": int64(1)}
					if !reflect.DeepEqual(got, want) {
						errs <- fmt.Errorf("got %v, want %v", got, want)
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
	})
}

func fmtAny(v any) string { return fmt.Sprint(v) }

// checkElapsed fails when a call that started at start took longer than
// twice bound, plus twice what making a runtime costs on this machine right
// now (the race detector and other packages' tests included). The calls
// it checks would run for many seconds to hours unguarded: the bound tells
// a call that stopped from one that did the work, not an idle 2-core
// machine from a busy one. The cost is measured only when bound is
// exceeded.
func checkElapsed(t *testing.T, start time.Time, bound time.Duration, what string) {
	t.Helper()
	d := time.Since(start)
	if d <= bound {
		return
	}
	p := mustCompile(t, "cost.js", "export default () => 1")
	s := time.Now()
	if _, err := p.Call(context.Background(), nil, Options{FreshRuntime: true}); err != nil {
		t.Fatal(err)
	}
	cost := time.Since(s)
	if d > 2*(bound+cost) {
		t.Errorf("%s after %v: over twice %v plus the %v a runtime takes to make now", what, d, bound, cost)
	}
}
