package jsrt

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// BigInt operators are unbounded in goja: 1n << 100000000000n allocates
// 12.5 GB at once, a fatal out-of-memory error for the whole process. The
// sandbox has no BigInt at all, whichever way a method tries to make one.
func TestNoBigInt(t *testing.T) {
	for name, body := range map[string]string{
		"literal":        "return String((1n << 100000000000n) > 0n)",
		"constructor":    "return (BigInt(2) ** BigInt(100000000)).toString().length",
		"BigInt64Array":  "return String(new BigInt64Array([1])[0])",
		"BigUint64Array": "return String(new BigUint64Array(1)[0])",
		"DataView":       "return String(new DataView(new ArrayBuffer(8)).getBigInt64(0))",
		"globalThis":     "return String(globalThis['Big' + 'Int'](1))",
	} {
		t.Run(name, func(t *testing.T) {
			p := mustCompile(t, "m.js", "export default () => { "+body+" }")
			modes(t, func(t *testing.T, o Options) {
				start := time.Now()
				_, err := p.Call(context.Background(), nil, o)
				var je *Error
				if !errors.As(err, &je) || je.Name != "ReferenceError" && je.Name != "TypeError" {
					t.Fatalf("err = %v, want a ReferenceError or TypeError", err)
				}
				checkElapsed(t, start, time.Second, "refused")
			})
		})
	}
	got, err := mustCompile(t, "m.js", "export default () => [typeof BigInt, typeof BigInt64Array, typeof BigUint64Array, typeof DataView.prototype.getBigInt64, typeof DataView.prototype.setBigUint64].join()").Call(context.Background(), nil)
	if err != nil || got != strings.Repeat("undefined,", 4)+"undefined" {
		t.Errorf("got %v, %v", got, err)
	}
}

// A limit that stops a call while its exception is being read (a getter
// that never returns) is reported as that limit, not as an unreadable
// exception.
func TestLimitWhileReadingTheException(t *testing.T) {
	p := mustCompile(t, "m.js", "export default () => { throw { get message() { for (;;) {} } } }")
	modes(t, func(t *testing.T, o Options) {
		o.Timeout = 50 * time.Millisecond
		_, err := p.Call(context.Background(), nil, o)
		if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "time limit exceeded") {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
	})
	// A getter that throws still gives an error, not a crash.
	_, err := mustCompile(t, "m.js", "export default () => { throw { get message() { throw new Error('inner') } } }").Call(context.Background(), nil)
	if err == nil || errors.Is(err, ErrTimeout) {
		t.Errorf("throwing getter: %v", err)
	}
}
