package jsrt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connspec/connspec/internal/redact"
)

// apiClient returns a fake API client whose get resolves to {path, n}.
func apiClient(calls *int) map[string]any {
	return map[string]any{
		"get": HostFunc(func(ctx context.Context, args []any) (any, error) {
			*calls++
			return map[string]any{"path": args[0], "n": *calls}, nil
		}),
	}
}

func TestHostFuncAwaitAndThen(t *testing.T) {
	src := `export default async ({ apiClient }) => {
  const me = await apiClient.get('/me')
  const chained = await apiClient.get('/x').then(r => r.path + ':' + r.n).then(s => s.toUpperCase())
  const p = apiClient.get('/p')
  return { me, chained, isPromise: p instanceof Promise, type: typeof apiClient.get }
}`
	p := mustCompile(t, "m.js", src)
	modes(t, func(t *testing.T, o Options) {
		var calls int
		got, err := p.Call(context.Background(), map[string]any{"apiClient": apiClient(&calls)}, o)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"me":        map[string]any{"path": "/me", "n": int64(1)},
			"chained":   "/X:2",
			"isPromise": true,
			"type":      "function",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %#v\nwant %#v", got, want)
		}
		if calls != 3 {
			t.Errorf("%d calls, want 3", calls)
		}
	})
}

func TestHostFuncArgsAndResultConversion(t *testing.T) {
	type item struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	var gotArgs []any
	var gotCtx context.Context
	type ctxKey struct{}
	input := map[string]any{"api": map[string]HostFunc{
		"post": func(ctx context.Context, args []any) (any, error) {
			gotArgs, gotCtx = args, ctx
			return []any{item{1, "a"}, map[string]any{"when": time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}}, nil
		},
		"nothing": func(context.Context, []any) (any, error) { return nil, nil },
	}}
	src := `export default async ({ api }) => {
  const res = await api.post('/items', { a: 1, b: [1, 'two', 2.5, true, null, undefined], nested: { c: 'd' }, f: () => 1 }, 7, -0.5, false)
  return { res, nothing: await api.nothing(), noArgs: await api.nothing() === null }
}`
	p := mustCompile(t, "m.js", src)
	modes(t, func(t *testing.T, o Options) {
		ctx := context.WithValue(context.Background(), ctxKey{}, "v")
		got, err := p.Call(ctx, input, o)
		if err != nil {
			t.Fatal(err)
		}
		wantArgs := []any{
			"/items",
			map[string]any{"a": int64(1), "b": []any{int64(1), "two", 2.5, true, nil, nil}, "nested": map[string]any{"c": "d"}},
			int64(7), -0.5, false,
		}
		if !reflect.DeepEqual(gotArgs, wantArgs) {
			t.Errorf("args\ngot  %#v\nwant %#v", gotArgs, wantArgs)
		}
		if gotCtx.Value(ctxKey{}) != "v" {
			t.Error("the HostFunc's context does not derive from the caller's")
		}
		if _, ok := gotCtx.Deadline(); !ok {
			t.Error("the HostFunc's context has no deadline")
		}
		if gotCtx.Err() == nil {
			t.Error("the HostFunc's context is still live after the call")
		}
		want := map[string]any{
			"res":     []any{map[string]any{"id": int64(1), "name": "a"}, map[string]any{"when": "2024-01-02T00:00:00Z"}},
			"nothing": nil, "noArgs": true,
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %#v\nwant %#v", got, want)
		}
	})
}

func TestURLSearchParamsConvertToStrings(t *testing.T) {
	var body any
	api := map[string]any{"post": HostFunc(func(_ context.Context, args []any) (any, error) {
		body = args[1]
		return nil, nil
	})}
	p := mustCompile(t, "m.js", `export default async ({ api }) => {
  const form = new URLSearchParams({ grant_type: 'refresh_token', scope: 'a b' })
  await api.post('/token', form)
  return { form }
}`)
	modes(t, func(t *testing.T, o Options) {
		got, err := p.Call(context.Background(), map[string]any{"api": api}, o)
		if err != nil {
			t.Fatal(err)
		}
		const want = "grant_type=refresh_token&scope=a+b"
		if body != want || !reflect.DeepEqual(got, map[string]any{"form": want}) {
			t.Errorf("HostFunc got %#v, result %#v; want %q", body, got, want)
		}
	})
}

// apiError is a caller's own error type that names a JavaScript class.
type apiError struct {
	status int
	body   map[string]any
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d", e.status) }

func (e *apiError) JSErrorClass() (name, message, key string, data any) {
	return "BadRequestError", e.Error(), "", map[string]any{"status": e.status, "body": e.body}
}

func failing(err error) map[string]any {
	return map[string]any{"get": HostFunc(func(context.Context, []any) (any, error) { return nil, err })}
}

func TestHostErrorsBecomeJSErrorClasses(t *testing.T) {
	src := `import { ConnectionError, BadRequestError, IntegrationAppError } from '@integration-app/sdk'
export default async ({ api }) => {
  try {
    await api.get('/me')
    return 'resolved'
  } catch (e) {
    return {
      name: e.name, message: e.message, key: e.key === undefined ? null : e.key, data: e.data === undefined ? null : e.data,
      isError: e instanceof Error, isConnection: e instanceof ConnectionError, isBadRequest: e instanceof BadRequestError,
      isSDK: e instanceof IntegrationAppError, isType: e instanceof TypeError, plain: e.constructor === Error,
    }
  }
}`
	tests := []struct {
		name string
		err  error
		want map[string]any
	}{
		{"connection error", fmt.Errorf("refreshing: %w", &Error{Name: "ConnectionError", Message: "token expired", Key: "access_token_expired"}),
			map[string]any{"name": "ConnectionError", "message": "token expired", "key": "access_token_expired", "data": nil,
				"isError": true, "isConnection": true, "isBadRequest": false, "isSDK": true, "isType": false, "plain": false}},
		{"own ErrorClass with data", &apiError{400, map[string]any{"error": "bad"}},
			map[string]any{"name": "BadRequestError", "message": "HTTP 400", "key": nil, "data": map[string]any{"status": int64(400), "body": map[string]any{"error": "bad"}},
				"isError": true, "isConnection": false, "isBadRequest": true, "isSDK": true, "isType": false, "plain": false}},
		{"plain error", errors.New("dial tcp: connection refused"),
			map[string]any{"name": "Error", "message": "dial tcp: connection refused", "key": nil, "data": nil,
				"isError": true, "isConnection": false, "isBadRequest": false, "isSDK": false, "isType": false, "plain": true}},
		{"standard class", &Error{Name: "TypeError", Message: "bad arg"},
			map[string]any{"name": "TypeError", "message": "bad arg", "key": nil, "data": nil,
				"isError": true, "isConnection": false, "isBadRequest": false, "isSDK": false, "isType": true, "plain": false}},
		{"unknown class", &Error{Name: "ApiError", Message: "m", Key: "k", Data: "d"},
			map[string]any{"name": "ApiError", "message": "m", "key": "k", "data": "d",
				"isError": true, "isConnection": false, "isBadRequest": false, "isSDK": false, "isType": false, "plain": true}},
	}
	p := mustCompile(t, "m.ts", src)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			modes(t, func(t *testing.T, o Options) {
				got, err := p.Call(context.Background(), map[string]any{"api": failing(tt.err)}, o)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got  %#v\nwant %#v", got, tt.want)
				}
			})
		})
	}
}

func TestUncaughtHostErrorSurfacesFromCall(t *testing.T) {
	hostErr := fmt.Errorf("refreshing: %w", &Error{Name: "ConnectionError", Message: "token expired", Key: "access_token_expired"})
	for name, src := range map[string]string{
		"awaited":  "export default async ({ api }) => {\n  const me = await api.get('/me')\n  return me\n}",
		"returned": "export default ({ api }) => {\n  return api.get('/me')\n}",
		"rethrown": "export default async ({ api }) => {\n  try { await api.get('/me') } catch (e) {\n    throw e }\n}",
	} {
		t.Run(name, func(t *testing.T) {
			p := mustCompile(t, "m.js", src)
			modes(t, func(t *testing.T, o Options) {
				_, err := p.Call(context.Background(), map[string]any{"api": failing(hostErr)}, o)
				var je *Error
				if !errors.As(err, &je) {
					t.Fatalf("err = %v (%T), want *Error", err, err)
				}
				if je.Name != "ConnectionError" || je.Key != "access_token_expired" || je.Message != "token expired" {
					t.Errorf("got %#v", je)
				}
				if je.File != "m.js" || je.Line != 2 {
					t.Errorf("position %s:%d, want m.js:2", je.File, je.Line)
				}
				if !errors.Is(err, hostErr) {
					t.Error("the *Error does not unwrap to the HostFunc's error")
				}
				if errors.Is(err, ErrTimeout) {
					t.Error("the *Error unwraps to ErrTimeout")
				}
			})
		})
	}
}

func TestHostFuncPanicBecomesError(t *testing.T) {
	api := map[string]any{"boom": HostFunc(func(context.Context, []any) (any, error) { panic("kaboom") })}
	caught := mustCompile(t, "m.js", "export default async ({ api }) => { try { await api.boom() } catch (e) { return e instanceof Error ? e.message : 'not an Error' } }")
	uncaught := mustCompile(t, "m.js", "export default async ({ api }) => api.boom()")
	modes(t, func(t *testing.T, o Options) {
		got, err := caught.Call(context.Background(), map[string]any{"api": api}, o)
		if err != nil || !strings.Contains(fmt.Sprint(got), "panicked: kaboom") {
			t.Errorf("caught: got %v, %v", got, err)
		}
		_, err = uncaught.Call(context.Background(), map[string]any{"api": api}, o)
		var je *Error
		if !errors.As(err, &je) || !strings.Contains(je.Message, "kaboom") {
			t.Errorf("uncaught: err = %v", err)
		}
		if got, err := mustCompile(t, "n.js", "export default () => 1").Call(context.Background(), nil, o); err != nil || got != int64(1) {
			t.Errorf("next call: %v, %v", got, err)
		}
	})
}

func TestTimeoutStopsHostFuncLoops(t *testing.T) {
	quick := map[string]any{"get": HostFunc(func(context.Context, []any) (any, error) { return 1, nil })}
	failingGet := failing(&Error{Name: "ConnectionError", Key: "rate_limit_exceeded"})
	blocking := map[string]any{"get": HostFunc(func(ctx context.Context, _ []any) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})}
	tests := []struct {
		name, src string
		api       map[string]any
	}{
		{"sync loop", "export default ({ api }) => { for (;;) api.get() }", quick},
		{"await loop", "export default async ({ api }) => { for (;;) await api.get() }", quick},
		{"then loop", "export default ({ api }) => { const next = () => api.get().then(next); return next() }", quick},
		{"catching loop", "export default async ({ api }) => { for (;;) { try { await api.get() } catch (e) {} } }", failingGet},
		{"blocking host", "export default async ({ api }) => { try { await api.get() } catch (e) { return 'caught' } }", blocking},
		{"blocking host uncaught", "export default ({ api }) => api.get()", blocking},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, "m.js", tt.src)
			modes(t, func(t *testing.T, o Options) {
				o.Timeout = 50 * time.Millisecond
				start := time.Now()
				_, err := p.Call(context.Background(), map[string]any{"api": tt.api}, o)
				if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want ErrTimeout", err)
				}
				checkElapsed(t, start, time.Second, "stopped")
			})
		})
	}
}

func TestCancellationReachesHostFunc(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	api := map[string]any{"get": HostFunc(func(ctx context.Context, _ []any) (any, error) {
		cancel()
		<-ctx.Done()
		return nil, ctx.Err()
	})}
	p := mustCompile(t, "m.js", "export default async ({ api }) => { try { await api.get() } catch (e) {} for (;;) {} }")
	_, err := p.Call(ctx, map[string]any{"api": api})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestURLSearchParams(t *testing.T) {
	tests := []struct{ name, expr, want string }{
		{"from string", "new URLSearchParams('?a=1&b=x+y&c=%41%zz&d&=e&&a=2').toString()", "a=1&b=x+y&c=A%25zz&d=&=e&a=2"},
		{"decoding", "const p = new URLSearchParams('q=x+y%20z&u=%E2%82%AC&bad=%FF&pct=100%'); return [p.get('q'), p.get('u'), p.get('bad'), p.get('pct')].join('|')", "x y z|€|\uFFFD|100%"},
		{"encoding", "new URLSearchParams({ q: 'a b&c=d', s: \"*-._~!'()/?#[]@$,;:+\", u: 'é€😀' }).toString()",
			"q=a+b%26c%3Dd&s=*-._%7E%21%27%28%29%2F%3F%23%5B%5D%40%24%2C%3B%3A%2B&u=%C3%A9%E2%82%AC%F0%9F%98%80"},
		{"from pairs", "new URLSearchParams([['a', 1], ['a', 2], ['b', true]]).toString()", "a=1&a=2&b=true"},
		{"from params", "const p = new URLSearchParams('a=1'); const q = new URLSearchParams(p); q.append('b', 2); return p + '|' + q", "a=1|a=1&b=2"},
		{"from map", "new URLSearchParams(new Map([['k', 'v']])).toString()", "k=v"},
		{"empty", "[new URLSearchParams().toString(), new URLSearchParams('').toString(), new URLSearchParams(undefined).size].join('|')", "||0"},
		{"get getAll has", "const p = new URLSearchParams('a=1&b=2&a=3'); return [p.get('a'), String(p.get('x')), p.getAll('a').join(','), p.getAll('x').length, p.has('b'), p.has('x'), p.has('a', '3'), p.has('a', '4'), p.size].join('|')",
			"1|null|1,3|0|true|false|true|false|3"},
		{"set", "const p = new URLSearchParams('a=1&b=2&a=3'); p.set('a', 'z'); p.set('c', 'new'); return p.toString()", "a=z&b=2&c=new"},
		{"append delete", "const p = new URLSearchParams('a=1&b=2&a=3&a=4'); p.append('b', 5); p.delete('a', '3'); const s1 = p.toString(); p.delete('a'); return s1 + '|' + p", "a=1&b=2&a=4&b=5|b=2&b=5"},
		{"sort", "const p = new URLSearchParams('c=1&a=2&b=3&a=1'); p.sort(); return p.toString()", "a=2&a=1&b=3&c=1"},
		{"iteration", "const p = new URLSearchParams('a=1&b=2'); const out = []; for (const [k, v] of p) out.push(k + v); for (const [k, v] of p.entries()) out.push(v + k); out.push([...p.keys()].join(''), [...p.values()].join('')); p.forEach(function (v, k, o) { out.push(k + '=' + v + (o === p) + this.x) }, { x: '!' }); return out.join(',')",
			"a1,b2,1a,2b,ab,12,a=1true!,b=2true!"},
		{"string tag", "[Object.prototype.toString.call(new URLSearchParams()), String(new URLSearchParams({ a: 'b' })), `${new URLSearchParams([['x', 'y']])}`].join('|')", "[object URLSearchParams]|a=b|x=y"},
		{"bad pair", "try { new URLSearchParams([['a']]); return 'no error' } catch (e) { return e.name }", "TypeError"},
		{"brand check", "try { URLSearchParams.prototype.get.call({}, 'a'); return 'no error' } catch (e) { return e.name }", "TypeError"},
		{"subclass", "class P extends URLSearchParams { extra() { return this.get('a') + '!' } }; return new P('a=1').extra()", "1!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.expr
			if !strings.Contains(body, "return") {
				body = "return " + body
			}
			p := mustCompile(t, "m.js", "export default () => { "+body+" }")
			modes(t, func(t *testing.T, o Options) {
				got, err := p.Call(context.Background(), nil, o)
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("got  %q\nwant %q", got, tt.want)
				}
			})
		})
	}
}

const canary = `canary-S3cr3t/"tok"+en`

func TestConsoleLogsValuesWithSecretsRedacted(t *testing.T) {
	src := `export default ({ credentials }) => {
  const t = credentials.token
  console.log('token', t, 42, null, undefined, [1, 'two'])
  console.info({ auth: 'Bearer ' + t, n: 1 })
  console.warn('%s is %d%% done; %j', 'job', 42.5, { t })
  console.error(new Error('bad ' + t))
  console.debug(new URLSearchParams({ token: t }).toString(), () => 1)
  console.trace('a', 'b')
  const cyclic = {}; cyclic.self = cyclic
  console.log(cyclic)
  return 'ok'
}`
	p := mustCompile(t, "m.js", src)
	modes(t, func(t *testing.T, o Options) {
		var buf bytes.Buffer
		o.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.Secrets = []string{canary, "abc", ""} // too short to redact
		if _, err := p.Call(context.Background(), map[string]any{"credentials": map[string]any{"token": canary}}, o); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, leak := range []string{"canary", "S3cr3t", `tok\"`} {
			if strings.Contains(out, leak) {
				t.Errorf("log contains %q:\n%s", leak, out)
			}
		}
		for _, want := range []string{
			`level=INFO msg="token [REDACTED] 42 null undefined [1,\"two\"]" file=m.js console=log`,
			`level=INFO msg="{\"auth\":\"Bearer [REDACTED]\",\"n\":1}" file=m.js console=info`,
			`level=WARN msg="job is 42.5% done; {\"t\":\"[REDACTED]\"}" file=m.js console=warn`,
			`level=ERROR msg="Error: bad [REDACTED]" file=m.js console=error`,
			`level=DEBUG msg="token=[REDACTED] [Function: (anonymous)]" file=m.js console=debug`,
			`level=DEBUG msg="a b" file=m.js console=trace`,
			`level=INFO msg="[object Object]" file=m.js console=log`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %s\n%s", want, out)
			}
		}
	})
}

func TestConsoleRespectsLevelAndNilLogger(t *testing.T) {
	p := mustCompile(t, "m.js", "export default () => { console.debug('d'); console.log('l'); console.error('e'); return 1 }")
	var buf bytes.Buffer
	o := Options{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if _, err := p.Call(context.Background(), nil, o); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); strings.Count(out, "\n") != 1 || !strings.Contains(out, `msg=e`) {
		t.Errorf("got %q, want only the error line", out)
	}
	if _, err := p.Call(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestConsoleFormattingCannotSwallowTimeout(t *testing.T) {
	p := mustCompile(t, "m.js", "export default () => { console.log({ toJSON() { for (;;) {} } }) }")
	modes(t, func(t *testing.T, o Options) {
		o.Timeout = 50 * time.Millisecond
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		_, err := p.Call(context.Background(), nil, o)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
	})
}

func TestErrorMessagesAreRedacted(t *testing.T) {
	tests := map[string]string{
		"Error":           "export default ({ credentials }) => { throw new Error('token ' + credentials.token) }",
		"thrown string":   "export default ({ credentials }) => { throw 'token ' + credentials.token }",
		"ConnectionError": "import { ConnectionError } from '@integration-app/sdk'\nexport default ({ credentials: c }) => { throw new ConnectionError({ message: 'x' + c.token, key: c.token, data: { [c.token]: [c.token] } }) }",
		"JSON":            "export default ({ credentials }) => { throw new Error(JSON.stringify(credentials)) }",
		"host error":      "export default ({ api }) => api.get()",
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			p := mustCompile(t, "m.js", src)
			modes(t, func(t *testing.T, o Options) {
				o.Secrets = []string{canary}
				in := map[string]any{"credentials": map[string]any{"token": canary}, "api": failing(errors.New("GET failed for token " + canary))}
				_, err := p.Call(context.Background(), in, o)
				var je *Error
				if !errors.As(err, &je) {
					t.Fatalf("err = %v, want *Error", err)
				}
				if s := fmt.Sprintf("%s %#v", err, je.Data); strings.Contains(s, "canary") || strings.Contains(s, "S3cr3t") {
					t.Errorf("error leaks the secret: %s", s)
				}
				if !strings.Contains(je.Message, redact.Mark) {
					t.Errorf("message %q has no %s", je.Message, redact.Mark)
				}
			})
		})
	}
}

func TestRedactor(t *testing.T) {
	rd := newRedactor([]string{"abcd1234", "1234wxyz", "abc", "zzzz"})
	for in, want := range map[string]string{
		"x abcd1234wxyz y":    "x [REDACTED] y", // overlapping secrets leave no part of either
		"abcd1234abcd1234":    "[REDACTED]",
		"abc zzz zzzz":        "abc zzz [REDACTED]",
		"nothing to see here": "nothing to see here",
	} {
		if got := rd.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	if newRedactor([]string{"abc", ""}) != nil {
		t.Error("a redactor for secrets that are all too short")
	}
	var none *redactor
	if none.String("abcd") != "abcd" {
		t.Error("nil redactor changed text")
	}
}

func TestConcurrentHostFuncCalls(t *testing.T) {
	src := `export default async ({ id, api }) => {
  let sum = 0
  for (let i = 0; i < 20; i++) sum += (await api.get(id, i)).v
  try { await api.fail(id) } catch (e) { if (e.key !== 'k' + id) throw new Error('wrong key ' + e.key) }
  return { id, sum }
}`
	p := mustCompile(t, "m.js", src)
	modes(t, func(t *testing.T, o Options) {
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for n := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var calls int // touched only by this call's goroutine
				api := map[string]any{
					"get": HostFunc(func(_ context.Context, args []any) (any, error) {
						calls++
						if args[0] != int64(n) {
							return nil, fmt.Errorf("call %d got id %v", n, args[0])
						}
						return map[string]any{"v": args[1]}, nil
					}),
					"fail": HostFunc(func(context.Context, []any) (any, error) {
						return nil, &Error{Name: "ConnectionError", Key: fmt.Sprint("k", n)}
					}),
				}
				got, err := p.Call(context.Background(), map[string]any{"id": n, "api": api}, o)
				if err != nil {
					errs <- err
					return
				}
				if want := map[string]any{"id": int64(n), "sum": int64(190)}; !reflect.DeepEqual(got, want) || calls != 20 {
					errs <- fmt.Errorf("call %d: got %v after %d calls", n, got, calls)
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

func TestURLSearchParamsCannotBePatchedAcrossPooledCalls(t *testing.T) {
	writer := mustCompile(t, "w.js", `export default () => {
  try { URLSearchParams.prototype.get = () => 'patched' } catch (e) {}
  try { URLSearchParams.prototype.toString = () => 'patched' } catch (e) {}
  try { Object.getPrototypeOf(new URLSearchParams().entries()).next = () => ({ done: true }) } catch (e) {}
  globalThis.URLSearchParams = function () {}
  return 1
}`)
	reader := mustCompile(t, "r.js", "export default () => { const p = new URLSearchParams('a=1'); return [p.get('a'), String(p), [...p].length].join('|') }")
	for range 5 {
		if _, err := writer.Call(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		if got, err := reader.Call(context.Background(), nil); err != nil || got != "1|a=1|1" {
			t.Fatalf("got %v, %v", got, err)
		}
	}
}

// Console output and exceptions are redacted with the engine's redactor: a
// method that logs a secret encoded or cut short does not leak it either.
func TestConsoleRedactsEncodedAndTruncatedSecrets(t *testing.T) {
	const secret = "sk_live_9f3Kq2Lm8ZpX4tRw"
	src := `export default ({ credentials }) => {
  const t = credentials.token
  console.log('basic', btoa('user:' + t))
  console.log('cut', t.slice(0, -3))
  console.log('hex', Array.from(t, c => c.charCodeAt(0).toString(16).padStart(2, '0')).join(''))
  console.log('escaped', encodeURIComponent(t).replace(/_/g, '%5F'))
  throw new Error('rejected ' + btoa(t))
}`
	p := mustCompile(t, "m.js", src)
	modes(t, func(t *testing.T, o Options) {
		var buf bytes.Buffer
		o.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.Secrets = []string{secret}
		_, err := p.Call(context.Background(), map[string]any{"credentials": map[string]any{"token": secret}}, o)
		if err == nil {
			t.Fatal("no error")
		}
		out := buf.String() + "\n" + err.Error()
		b64 := base64.StdEncoding.EncodeToString([]byte(secret))
		for _, leak := range []string{secret[:len(secret)-3], b64[:len(b64)-4], hex.EncodeToString([]byte(secret))[:30], "9f3Kq2Lm8ZpX"} {
			if strings.Contains(out, leak) {
				t.Errorf("output shows %q:\n%s", leak, out)
			}
		}
		if strings.Count(out, redact.Mark) < 5 {
			t.Errorf("expected every line redacted:\n%s", out)
		}
	})
}
