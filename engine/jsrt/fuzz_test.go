package jsrt

import (
	"context"
	"errors"
	"testing"
	"time"
)

func FuzzCompileCall(f *testing.F) {
	f.Add("m.ts", benchSource)
	f.Add("m.js", "export default async ({ a }) => { await null; return [a, typeof a] }")
	f.Fuzz(func(t *testing.T, name, src string) {
		p, probs := Compile(name, []byte(src))
		if p == nil {
			if len(probs) == 0 {
				t.Fatal("no Program and no problems")
			}
			for _, pr := range probs {
				if pr.Line < 1 || pr.Column < 1 {
					t.Fatalf("problem without a position: %v", pr)
				}
			}
			return
		}
		opts := Options{Timeout: 100 * time.Millisecond, MaxStringLength: 1 << 16, MaxArrayLength: 1 << 12, MaxHeapGrowth: 64 << 20}
		_, err := p.Call(context.Background(), map[string]any{"a": "x", "credentials": map[string]any{"token": "t"}}, opts)
		var je *Error
		if err != nil && !errors.As(err, &je) {
			t.Fatalf("error of type %T: %v", err, err)
		}
	})
}
