package formulas

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/vm"
)

// An expr-lang program has a memory budget of its own, but it does not
// count strings: `reduce(1..40, #acc + #acc, "x")`, a chain of `let`s that
// double a string, or `repeat(repeat("x", 999999), 999999)` allocate
// terabytes in a single evaluation, which kills the process. The VM cannot
// be interrupted either, so nested loops over long arrays would run for
// hours. $expr programs are therefore compiled a second time with a patch
// that charges the work of the evaluation to the Evaluate's work budget:
//
//   - every operand of an operator and every argument of a function (other
//     than literals) is passed through exprCharge, which charges its size
//     (a string's length, the length of an array or map) plus exprCallCost;
//   - every iteration of a predicate (map, filter, reduce, all, ...) goes
//     through exprCharge too;
//   - the built-ins whose result can be much larger than their arguments
//     (repeat, replace, join, toJSON, string, flatten) run through
//     exprBuiltin, which estimates the size of the result and charges it
//     before the built-in allocates it.
//
// The charge functions find the evaluator under exprMeter in the
// environment. The unpatched program is compiled first and decides what
// compiles (so compile errors and references are as before).
const (
	exprMeter   = "__connspec_meter"
	exprCharge  = "__connspec_charge"
	exprBuiltin = "__connspec_builtin"
)

// amplifiers are the built-ins guarded by exprBuiltin.
var amplifiers = map[string]bool{"repeat": true, "replace": true, "join": true, "toJSON": true, "string": true, "flatten": true}

var errGuardMisuse = errors.New("internal guard function called with the wrong arguments")

// compileGuarded compiles src with the work-charging patch.
func compileGuarded(src string) (*vm.Program, error) {
	return expr.Compile(src,
		expr.AllowUndefinedVariables(),
		expr.Function(exprCharge, chargeFunc),
		expr.Function(exprBuiltin, builtinFunc),
		expr.Patch(exprGuard{}),
	)
}

// exprGuard is the patch; see the comment at the top of the file.
type exprGuard struct{}

func (exprGuard) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		n.Left, n.Right = charged(n.Left), charged(n.Right)
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && (id.Value == exprCharge || id.Value == exprBuiltin) {
			return // ours
		}
		for i := range n.Arguments {
			n.Arguments[i] = charged(n.Arguments[i])
		}
	case *ast.PredicateNode:
		n.Node = chargeCall(n.Node)
	case *ast.BuiltinNode:
		for i, a := range n.Arguments {
			if _, closure := a.(*ast.PredicateNode); !closure {
				n.Arguments[i] = charged(a)
			}
		}
		if amplifiers[n.Name] {
			args := append([]ast.Node{&ast.StringNode{Value: n.Name}, &ast.IdentifierNode{Value: exprMeter}}, n.Arguments...)
			ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: exprBuiltin}, Arguments: args})
		}
	}
}

// charged wraps n in exprCharge unless it is a literal, whose size the
// expression text already bounds (and which expr-lang may need to see, for
// example a constant regular expression after matches).
func charged(n ast.Node) ast.Node {
	if isLiteral(n) {
		return n
	}
	return chargeCall(n)
}

func chargeCall(n ast.Node) ast.Node {
	return &ast.CallNode{Callee: &ast.IdentifierNode{Value: exprCharge}, Arguments: []ast.Node{n, &ast.IdentifierNode{Value: exprMeter}}}
}

func isLiteral(n ast.Node) bool {
	switch t := n.(type) {
	case *ast.NilNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.StringNode, *ast.BytesNode, *ast.ConstantNode:
		return true
	case *ast.ArrayNode:
		for _, x := range t.Nodes {
			if !isLiteral(x) {
				return false
			}
		}
		return true
	}
	return false
}

// chargeFunc is exprCharge(value, meter): it charges the value's size and
// returns it unchanged.
func chargeFunc(params ...any) (any, error) {
	if len(params) != 2 {
		return nil, errGuardMisuse
	}
	ev, ok := params[1].(*evaluator)
	if !ok {
		return nil, errGuardMisuse
	}
	if err := ev.spend(exprCallCost + shallowSize(params[0])); err != nil {
		return nil, err
	}
	return params[0], nil
}

// builtinFunc is exprBuiltin(name, meter, args...): it charges the size of
// the result of the built-in before running it.
func builtinFunc(params ...any) (any, error) {
	if len(params) < 2 {
		return nil, errGuardMisuse
	}
	name, _ := params[0].(string)
	ev, ok := params[1].(*evaluator)
	idx, known := builtin.Index[name]
	if !ok || !known || !amplifiers[name] {
		return nil, errGuardMisuse
	}
	args := params[2:]
	need, err := resultSize(name, args, ev.left())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := ev.spend(exprCallCost + need); err != nil {
		return nil, err
	}
	f := builtin.Builtins[idx]
	switch {
	case f.Func != nil:
		return f.Func(args...)
	case f.Safe != nil:
		out, _, err := f.Safe(args...)
		return out, err
	case f.Fast != nil && len(args) == 1:
		return f.Fast(args[0]), nil
	}
	return nil, errors.New(name + ": wrong number of arguments")
}

// resultSize estimates the size of the result of an amplifying built-in;
// it fails when that exceeds limit. Arguments of unexpected types give 0:
// the built-in reports them itself.
func resultSize(name string, args []any, limit int) (int, error) {
	switch name {
	case "repeat":
		if len(args) != 2 {
			return 0, nil
		}
		s, isStr := args[0].(string)
		n, isNum := number(args[1])
		if !isStr || !isNum || n <= 0 || len(s) == 0 {
			return 0, nil
		}
		if n > float64(limit/len(s)) {
			return 0, ErrTooMuchWork
		}
		return len(s) * int(n), nil
	case "replace":
		if len(args) < 3 {
			return 0, nil
		}
		s, ok1 := args[0].(string)
		old, ok2 := args[1].(string)
		repl, ok3 := args[2].(string)
		if !ok1 || !ok2 || !ok3 {
			return 0, nil
		}
		count := utf8.RuneCountInString(s) + 1
		if old != "" {
			count = strings.Count(s, old)
		}
		if len(args) == 4 {
			if n, ok := number(args[3]); ok && n >= 0 && n < float64(count) {
				count = int(n)
			}
		}
		if len(repl) > 0 && count > (limit-len(s))/len(repl) {
			return 0, ErrTooMuchWork
		}
		return len(s) + count*len(repl), nil
	case "join":
		size, err := measure(args[0], limit, true)
		if err != nil {
			return 0, err
		}
		if len(args) == 2 {
			sep, _ := args[1].(string)
			n := shallowSize(args[0])
			if len(sep) > 0 && n > (limit-size)/len(sep) {
				return 0, ErrTooMuchWork
			}
			size += n * len(sep)
		}
		if size > limit {
			return 0, ErrTooMuchWork
		}
		return size, nil
	default: // toJSON, string, flatten
		if len(args) != 1 {
			return 0, nil
		}
		return measure(args[0], limit, true)
	}
}

// shallowSize is a string's length or the number of elements of an array
// or map; 0 for anything else.
func shallowSize(v any) int {
	switch t := v.(type) {
	case string:
		return len(t)
	case []any:
		return len(t)
	case map[string]any:
		return len(t)
	case nil, bool, int, int64, float64:
		return 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Array, reflect.Map:
		return rv.Len()
	}
	return 0
}
