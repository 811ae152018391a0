package formulas

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Mappings of a few kilobytes that, evaluated without a bound, build
// gigabytes (a fatal out-of-memory error) or run for hours. Each must stop
// with ErrTooMuchWork (or an error naming the limit) quickly.
func TestWorkBudgetStopsExpansion(t *testing.T) {
	doubling := func(formula string) string {
		var b strings.Builder
		b.WriteString("l0: &l0 \"" + strings.Repeat("x", 64<<10) + "\"\n")
		for i := 1; i <= 12; i++ {
			fmt.Fprintf(&b, "l%d: &l%d %s\n", i, i, strings.ReplaceAll(formula, "PREV", fmt.Sprintf("*l%d", i-1)))
		}
		return b.String()
	}
	lets := []string{`let a0 = "xxxxxxxx"`}
	for i := 1; i < 60; i++ {
		lets = append(lets, fmt.Sprintf("let a%d = a%d + a%d", i, i-1, i-1))
	}
	copies := "f0: {$plain: [1]}\n"
	for i := 1; i < 60; i++ {
		copies += fmt.Sprintf("f%d: [{$copy: f%d}, {$copy: f%d}]\n", i, i-1, i-1)
	}
	list := "[" + strings.TrimSuffix(strings.Repeat("1, ", 400), ", ") + "]"
	plain := "[" + strings.TrimSuffix(strings.Repeat("*p, ", 100), ", ") + "]"
	tests := map[string]struct{ src, want string }{
		"$concat of aliases doubling": {doubling("{$concat: [PREV, PREV]}"), "expands too much"},
		"$tpl of aliases doubling":    {doubling(`{$tpl: {template: "{a}{b}", values: {a: PREV, b: PREV}}}`), "expands too much"},
		"$concat of one alias 5000 times": {"l: &l \"" + strings.Repeat("y", 4096) + "\"\nx: {$concat: [" + strings.TrimSuffix(strings.Repeat("*l, ", 5000), ", ") + "]}\n",
			"expands too much"},
		"$plain copied per element": {"p: &p [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\npp: &pp " + plain + "\nx: {$iterate: {source: {$plain: " + list + "}, item: {$iterate: {source: {$plain: " + list + "}, item: {$plain: *pp}}}}}\n",
			"expands too much"},
		"$copy sharing a value 2^60 times": {copies, "the result cannot be used"},
		"$concat of a shared value":        {"x: {$concat: [{$expr: 'reduce(1..60, [#acc, #acc], 1)'}]}", "expands too much"},
		"$expr reduce doubling":            {`{$expr: 'reduce(1..64, #acc + #acc, "xxxxxxxx")'}`, "expands too much"},
		"$expr let doubling":               {"{$expr: '" + strings.Join(lets, "; ") + "; a59'}", "expands too much"},
		"$expr repeat of repeat":           {`{$expr: 'repeat(repeat("x", 999999), 999999)'}`, "repeat: the mapping expands too much"},
		"$expr replace amplifying":         {`{$expr: 'replace(repeat("x", 99999), "", repeat("y", 99999))'}`, "replace: the mapping expands too much"},
		"$expr join of a shared string":    {`{$expr: 'let s = repeat("x", 999999); join(map(1..999999, s))'}`, "expands too much"},
		"$expr nested loops":               {`{$expr: 'let s = split(repeat("x", 999999), ""); count(s, count(s, true) > 0)'}`, "expands too much"},
		"$expr toJSON of a shared tree":    {`{$expr: 'toJSON(reduce(1..60, [#acc, #acc], 1))'}`, "toJSON: the mapping expands too much"},
		"$expr string of a deep value":     {`{$expr: 'string(reduce(1..5000, [#acc], 1))'}`, "nested more than 1000 levels"},
		"$expr result shared tree":         {`{$expr: 'reduce(1..60, [#acc, #acc], 1)'}`, "the result cannot be used"},
		"$expr result too deep":            {`{$expr: 'reduce(1..5000, [#acc], 1)'}`, "nested more than 1000 levels"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := compileYAML(t, tc.src)
			start := time.Now()
			_, err := m.Evaluate(map[string]any{})
			var ee *EvalError
			if !errors.As(err, &ee) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want an *EvalError saying %q", err, tc.want)
			}
			if !errors.Is(err, ErrTooMuchWork) && !errors.Is(err, errTooDeep) {
				t.Errorf("err = %v does not match ErrTooMuchWork", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("stopped only after %v", d)
			}
		})
	}
}

// The budget leaves room for what mappings do.
func TestWorkBudgetAllowsOrdinaryMappings(t *testing.T) {
	vars := map[string]any{"items": make([]any, 20000), "text": strings.Repeat("z", 1<<20)}
	for i := range 20000 {
		vars["items"].([]any)[i] = map[string]any{"id": int64(i), "name": fmt.Sprint("n", i)}
	}
	tests := map[string]string{
		"iterate 20000 elements": `{$iterate: {source: {$var: items}, item: {id: {$var: $.item.id}, label: {$concat: [{$var: $.item.name}, "-", {$var: $.item.id}]}}}}`,
		"1 MiB of text twice":    `{$concat: [{$var: text}, {$var: text}]}`,
		"expr over a list":       `{$expr: 'sum(map(items, .id)) > 0 && len(join(map(items, .name), ",")) > 0'}`,
		"expr string helpers":    `{$expr: 'upper(replace("a-b-c", "-", "_")) + repeat("=", 3) + toJSON({"k": [1, 2]}) + string(42)'}`,
		"expr range":             `{$expr: 'len(filter(1..100000, # % 2 == 0))'}`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := compileYAML(t, src).Evaluate(vars); err != nil {
				t.Fatal(err)
			}
		})
	}
	got := evalYAML(t, `{$expr: 'upper(replace("a-b-c", "-", "_")) + repeat("=", 3) + string(42)'}`, nil)
	if got != "A_B_C===42" {
		t.Errorf("guarded $expr = %v", got)
	}
}
