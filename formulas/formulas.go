package formulas

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Severity tells whether a [Problem] stops a mapping from being used.
type Severity int

const (
	// SeverityError marks a problem that makes the mapping unusable.
	SeverityError Severity = iota
	// SeverityWarning marks a suspicious construct that still compiles.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Problem is a compile-time problem, positioned in the YAML source.
type Problem struct {
	Severity Severity
	// Line and Column are 1-based positions in the YAML source; both are 0
	// for mappings compiled with CompileValue.
	Line, Column int
	// Path is a JSON pointer relative to the compiled node, for example
	// "/headers/Authorization/$concat/1".
	Path    string
	Message string
	// ExprLine and ExprColumn are the 1-based position of an $expr compile
	// error inside the expression text, 0 otherwise. Line and Column already
	// point at it when the expression is a one-line plain or quoted scalar.
	ExprLine, ExprColumn int
}

// String formats the problem as "LINE:COL: SEVERITY: MESSAGE (at PATH)".
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", p.Line, p.Column)
	}
	b.WriteString(p.Severity.String())
	b.WriteString(": ")
	b.WriteString(p.Message)
	if p.Path != "" {
		fmt.Fprintf(&b, " (at %s)", p.Path)
	}
	return b.String()
}

// Reference is a variable the formula reads.
type Reference struct {
	// Root is the first segment of the locator, such as "credentials"; it is
	// empty when the whole variable set is read.
	Root string
	// Locator is the full locator text, such as "credentials.access_token"
	// or, for $expr, the member chain the expression reads.
	Locator string
	// Line and Column are the position of the formula node (0 when compiled
	// with CompileValue).
	Line, Column int
}

// Mapping is a compiled mapping. It is immutable and safe for concurrent
// calls to Evaluate.
type Mapping struct {
	root     node
	refs     []Reference
	constant bool
}

// EvalError is a run-time failure of one formula, such as an $expr runtime
// error. Path is the JSON pointer of the failing formula.
type EvalError struct {
	Path string
	Err  error
}

// Error names the path and the cause.
func (e *EvalError) Error() string {
	p := e.Path
	if p == "" {
		p = "/"
	}
	return fmt.Sprintf("formulas: evaluating %s: %v", p, e.Err)
}

// Unwrap returns the cause.
func (e *EvalError) Unwrap() error { return e.Err }

// Compile compiles a yaml.v3 node: a document, mapping, sequence or scalar.
// Aliases are expanded with a bound on the expanded size, and nesting deeper
// than 256 levels is a problem. When the returned problems contain an error
// the Mapping is nil. A nil node compiles to a mapping that gives nil.
func Compile(node *yaml.Node) (*Mapping, []Problem) {
	return build(func(cv *converter) *srcNode { return cv.fromYAML(node, 0, "") })
}

// CompileValue compiles an already decoded value made of map[string]any,
// []any, scalars and, through reflection, other maps with string keys,
// slices and arrays. Go maps have no key order, so an object is a formula
// when one of its keys is a known formula name; other keys are sorted.
// Problems carry no line or column.
func CompileValue(v any) (*Mapping, []Problem) {
	return build(func(cv *converter) *srcNode { return cv.fromGo(v, 0, "") })
}

func build(convert func(*converter) *srcNode) (m *Mapping, problems []Problem) {
	cv := converter{}
	c := compiler{}
	defer func() {
		// A panic here is a bug in this package; callers still get a problem.
		if r := recover(); r != nil {
			m = nil
			problems = append(append(cv.problems, c.problems...), Problem{Severity: SeverityError, Message: fmt.Sprintf("internal error while compiling: %v", r)})
		}
	}()
	src := convert(&cv)
	root := c.value(src, "")
	problems = append(cv.problems, c.problems...)
	for _, p := range problems {
		if p.Severity == SeverityError {
			return nil, problems
		}
	}
	return &Mapping{root: root, refs: c.refs, constant: !c.dynamic}, problems
}

// Evaluate evaluates the mapping against vars. An undefined result is nil.
// Results never share memory with the Mapping; they may share values read
// from vars. Errors are *EvalError values naming the failing formula.
func (m *Mapping) Evaluate(vars map[string]any) (result any, err error) {
	if m == nil || m.root == nil {
		return nil, fmt.Errorf("formulas: Evaluate called on a nil Mapping")
	}
	defer func() {
		// A panic here is a bug in this package; callers still get an error.
		if r := recover(); r != nil {
			result, err = nil, fmt.Errorf("formulas: internal error: %v", r)
		}
	}()
	ev := evaluator{}
	v, ok, err := m.root.eval(&ev, vars)
	if err != nil || !ok {
		return nil, err
	}
	// A result can share one value many times over ($copy of $copy, an
	// $expr reduce that nests [#acc, #acc]): small in memory, but whoever
	// walks it (JSON encoding, a store) would walk it exponentially often.
	// Refuse results that are too large or deep as a tree.
	if _, err := measure(v, ev.left(), false); err != nil {
		return nil, &EvalError{Err: fmt.Errorf("the result cannot be used: %w", err)}
	}
	return v, nil
}

// References lists, in source order, every variable read by $var and $expr
// outside $iterate items (locators inside an item read the element, not the
// variables). Callers use it to check variable names, catching typos such as
// "credentails".
func (m *Mapping) References() []Reference {
	if m == nil {
		return nil
	}
	return slices.Clone(m.refs)
}

// IsConstant reports whether the mapping contains no formula other than
// $plain, so that every evaluation gives the same value.
func (m *Mapping) IsConstant() bool {
	return m != nil && m.constant
}

// KnownFormulas returns the formula names this package understands, sorted.
func KnownFormulas() []string {
	names := make([]string, 0, len(formulaNames))
	for n := range formulaNames {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// UnsupportedFormulas returns the formulas of the integration.app reference
// that this package refuses at compile time, each with the reason it gives.
func UnsupportedFormulas() map[string]string { return maps.Clone(unsupportedFormulas) }
