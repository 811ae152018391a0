// Package nesting bounds how deeply nested a value from outside may be
// before the engine walks it: JSON text (token endpoint and API answers) is
// scanned before it is decoded, and Go values (connection input, stored or
// resolved credentials) are measured without recursion. Every recursive
// walk that follows (decoding, redaction, conversion, JSON encoding) is then
// bounded; a Go stack overflow is a fatal crash, not a panic.
package nesting

import (
	"fmt"
)

// Max is how many levels of objects and arrays a value may have. Real API
// answers and credentials stay far below; the YAML loader allows 512 too.
const Max = 512

// MaxValues caps how many values Check walks: a Go value can share one
// part many times over, which a walk would visit each time.
const MaxValues = 1_000_000

// Error says a value is nested deeper than Limit (or, when Values is set,
// holds more values than that).
type Error struct {
	Limit  int
	Values bool
}

// Error reads after "X is": "nested too deeply (more than 512 levels)".
func (e *Error) Error() string {
	if e.Values {
		return fmt.Sprintf("too large (more than %d values, or it refers to itself)", e.Limit)
	}
	return fmt.Sprintf("nested too deeply (more than %d levels)", e.Limit)
}

// CheckJSON scans JSON text and fails once objects and arrays nest deeper
// than Max. It does not validate the text; a decoder does that after.
func CheckJSON(data []byte) error {
	depth := 0
	inString, escaped := false, false
	for _, b := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '[' || b == '{':
			depth++
			if depth > Max {
				return &Error{Limit: Max}
			}
		case b == ']' || b == '}':
			depth--
		}
	}
	return nil
}

// Check walks a Go value of maps and slices (map[string]any, []any and
// []map[string]any, as JSON decoding and embedders make them) without
// recursion, and fails once containers nest deeper than Max (as CheckJSON
// counts them) or it holds more than MaxValues values.
func Check(v any) error {
	type item struct {
		v     any
		depth int // containers around v
	}
	stack := []item{{v, 0}}
	for seen := 0; len(stack) > 0; seen++ {
		if seen > MaxValues {
			return &Error{Limit: MaxValues, Values: true}
		}
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		var children []any
		switch t := it.v.(type) {
		case map[string]any:
			for _, x := range t {
				children = append(children, x)
			}
		case []any:
			children = t
		case []map[string]any:
			for _, x := range t {
				children = append(children, x)
			}
		default:
			continue
		}
		if it.depth >= Max {
			return &Error{Limit: Max}
		}
		for _, x := range children {
			stack = append(stack, item{x, it.depth + 1})
		}
	}
	return nil
}
