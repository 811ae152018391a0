package formulas

import (
	"errors"
	"fmt"
	"reflect"
)

// A compiled mapping is small (at most maxNodes values after alias
// expansion), but evaluating it can multiply that: $iterate runs its item
// once per element, $concat over aliased $concat formulas doubles the text
// at every level, $plain copies its value on every evaluation, $copy can
// share one value many times over, and an $expr can loop (map, reduce) and
// build strings. Without a bound, a hostile mapping of a few kilobytes
// exhausts the memory of the process (a fatal error, not a panic that
// could be recovered). Every Evaluate therefore has a work budget; running
// out of it is an *EvalError wrapping ErrTooMuchWork.

// maxWork is the work one Evaluate may do. A unit is a byte of text built,
// a value copied or visited; see the cost constants for what else is
// counted and how much.
const maxWork = 1 << 24

const (
	// nodeCost is charged per compiled node an $iterate element evaluates
	// (nested $iterate items charge for themselves): evaluating a node
	// allocates, so it costs more than a byte of text.
	nodeCost = 4
	// exprCallCost is charged per guarded step of an $expr (an operand, an
	// argument or one iteration of a predicate such as map or reduce).
	exprCallCost = 32
	// maxValueDepth bounds the nesting of values that are measured; deeper
	// ones are refused rather than walked (a Go stack is finite too).
	maxValueDepth = 1000
)

// ErrTooMuchWork reports that evaluating a mapping needed more than its
// work budget: it expands without bound (aliases of aliases, nested
// $iterate, an $expr loop) or builds more text than any request needs.
var ErrTooMuchWork = errors.New("the mapping expands too much: evaluating it needs more than the limit of " + fmt.Sprint(maxWork) + " units of work (text built, values copied or visited)")

// errTooDeep reports a value nested deeper than maxValueDepth.
var errTooDeep = fmt.Errorf("a value is nested more than %d levels deep (or refers to itself)", maxValueDepth)

// spend charges n units of work; it fails once the budget is used up.
func (ev *evaluator) spend(n int) error {
	if n < 0 || n > maxWork-ev.work {
		ev.work = maxWork + 1
		return ErrTooMuchWork
	}
	ev.work += n
	return nil
}

// left is what remains of the budget.
func (ev *evaluator) left() int { return max(maxWork-ev.work, 0) }

// appendValue appends the string form of v to b after charging its size,
// so that a huge string or an object that is large once written as JSON
// (a value shared many times over) is refused before it is built.
func (ev *evaluator) appendValue(b []byte, v any) ([]byte, error) {
	n := 0
	switch t := v.(type) {
	case nil:
	case string:
		n = len(t)
	case bool, int, int64, float64:
		n = 24
	default:
		size, err := measure(v, ev.left(), true)
		if errors.Is(err, errTooDeep) {
			// encoding/json cannot write it either (a cycle) or would recurse
			// as deep: such a value has no string form, as JSON errors give.
			return b, nil
		}
		if err != nil {
			return b, err
		}
		n = size
	}
	if err := ev.spend(n); err != nil {
		return b, err
	}
	return appendString(b, v), nil
}

// measure walks v and returns its size: with bytes, about the length of its
// JSON text (indented, as toJSON writes it); without, the number of values.
// The walk stops with ErrTooMuchWork once the size exceeds limit, or with
// errTooDeep once the nesting exceeds maxValueDepth, so the walk itself is
// bounded even for a value that shares one part exponentially many times.
func measure(v any, limit int, bytes bool) (int, error) {
	m := measurer{limit: limit, bytes: bytes}
	m.walk(v, 0)
	switch {
	case m.deep:
		return m.size, errTooDeep
	case m.over:
		return m.size, ErrTooMuchWork
	}
	return m.size, nil
}

type measurer struct {
	size, limit       int
	bytes, over, deep bool
}

func (m *measurer) add(n int) bool {
	m.size += n
	if m.size > m.limit {
		m.over = true
	}
	return !m.over
}

func (m *measurer) walk(v any, depth int) {
	if m.over {
		return
	}
	if depth > maxValueDepth {
		m.over, m.deep = true, true
		return
	}
	// Per value: one unit, or its indentation and punctuation as JSON text.
	cost := 1
	if m.bytes {
		cost = 2*depth + 4
	}
	switch t := v.(type) {
	case nil, bool, int, int64, float64:
		m.add(cost + 20)
		return
	case string:
		if m.bytes {
			cost += len(t)
		}
		m.add(cost)
		return
	case map[string]any:
		if !m.add(cost) {
			return
		}
		for k, x := range t {
			if m.bytes && !m.add(len(k)+4) {
				return
			}
			m.walk(x, depth+1)
		}
		return
	case []any:
		if !m.add(cost) {
			return
		}
		for _, x := range t {
			m.walk(x, depth+1)
		}
		return
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		m.walk(rv.String(), depth)
	case reflect.Slice, reflect.Array:
		if !m.add(cost) {
			return
		}
		for i := range rv.Len() {
			m.walk(rv.Index(i).Interface(), depth+1)
			if m.over {
				return
			}
		}
	case reflect.Map:
		if !m.add(cost) {
			return
		}
		for it := rv.MapRange(); it.Next(); {
			if m.bytes && !m.add(len(fmt.Sprint(it.Key().Interface()))+4) {
				return
			}
			m.walk(it.Value().Interface(), depth+1)
			if m.over {
				return
			}
		}
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			m.add(cost + 4)
			return
		}
		m.walk(rv.Elem().Interface(), depth+1)
	default:
		// Numbers of other Go types, time values, structs: small when printed.
		m.add(cost + 64)
	}
}
