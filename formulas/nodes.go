package formulas

import (
	"fmt"
	"maps"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// node is one compiled piece of a mapping. eval returns the value and
// whether it is defined; scope is what locators resolve against (the
// variables, or the element inside $iterate).
type node interface {
	eval(ev *evaluator, scope any) (any, bool, error)
}

// evaluator is the per-call state of Evaluate.
type evaluator struct {
	// frames holds the objects under construction that $copy reads from.
	frames []map[string]any
	// steps counts $iterate elements, bounding nested iteration over
	// self-referencing variables.
	steps int
	// work counts what the evaluation built, copied and visited, against
	// maxWork (budget.go).
	work int
}

// maxIterateSteps bounds the $iterate elements visited by one Evaluate.
const maxIterateSteps = 1 << 20

// undefinedNode is the result of a formula that failed to compile; it only
// exists while problems are being collected.
type undefinedNode struct{}

func (undefinedNode) eval(*evaluator, any) (any, bool, error) { return nil, false, nil }

// constNode is a scalar (or null) written in the mapping.
type constNode struct{ v any }

func (n constNode) eval(*evaluator, any) (any, bool, error) { return n.v, true, nil }

// plainNode is a $plain object or array, copied on every evaluation; weight
// is the number of values copied, charged to the work budget.
type plainNode struct {
	v      any
	weight int
	path   string
}

func (n plainNode) eval(ev *evaluator, _ any) (any, bool, error) {
	if err := ev.spend(n.weight); err != nil {
		return nil, false, &EvalError{Path: n.path, Err: err}
	}
	return deepCopy(n.v), true, nil
}

// objectNode is a literal object.
type objectNode struct {
	keys  []string
	vals  []node
	order []int // evaluation order when $copy needs one, else nil
	// framed is set when a $copy reads fields of this object.
	framed bool
}

func (n *objectNode) eval(ev *evaluator, scope any) (any, bool, error) {
	m := make(map[string]any, len(n.keys))
	if len(n.keys) == 0 {
		return m, true, nil
	}
	if n.framed {
		ev.frames = append(ev.frames, m)
	}
	var err error
	if n.order == nil {
		for i, v := range n.vals {
			if err = n.field(ev, scope, m, i, v); err != nil {
				break
			}
		}
	} else {
		for _, i := range n.order {
			if err = n.field(ev, scope, m, i, n.vals[i]); err != nil {
				break
			}
		}
	}
	if n.framed {
		ev.frames = ev.frames[:len(ev.frames)-1]
	}
	if err != nil || len(m) == 0 {
		return nil, false, err
	}
	return m, true, nil
}

func (n *objectNode) field(ev *evaluator, scope any, m map[string]any, i int, v node) error {
	x, ok, err := v.eval(ev, scope)
	if ok {
		m[n.keys[i]] = x
	}
	return err
}

// arrayNode is a literal array.
type arrayNode struct{ items []node }

func (n *arrayNode) eval(ev *evaluator, scope any) (any, bool, error) {
	out := make([]any, 0, len(n.items))
	for _, it := range n.items {
		x, ok, err := it.eval(ev, scope)
		if err != nil {
			return nil, false, err
		}
		if ok {
			out = append(out, x)
		}
	}
	if len(out) == 0 && len(n.items) > 0 {
		return nil, false, nil
	}
	return out, true, nil
}

// listArg is a list operand: written items, or a formula giving an array.
type listArg struct {
	items []node
	dyn   node
}

// each calls f with every item; a dynamic value that is not an array gives
// no items. f returns false to stop.
func (l *listArg) each(ev *evaluator, scope any, f func(v any, ok bool) bool) error {
	if l.dyn == nil {
		for _, it := range l.items {
			v, ok, err := it.eval(ev, scope)
			if err != nil {
				return err
			}
			if !f(v, ok) {
				return nil
			}
		}
		return nil
	}
	v, ok, err := l.dyn.eval(ev, scope)
	if err != nil || !ok {
		return err
	}
	list, isList := asList(v)
	if !isList {
		return nil
	}
	for _, x := range list {
		if !f(x, true) {
			return nil
		}
	}
	return nil
}

type varNode struct{ loc locator }

func (n *varNode) eval(_ *evaluator, scope any) (any, bool, error) {
	v, ok := n.loc.get(scope)
	return v, ok, nil
}

// copyNode reads a sibling field of the enclosing object.
type copyNode struct {
	key  string
	rest locator
}

func (n *copyNode) eval(ev *evaluator, _ any) (any, bool, error) {
	if len(ev.frames) == 0 {
		return nil, false, nil
	}
	v, ok := ev.frames[len(ev.frames)-1][n.key]
	if !ok {
		return nil, false, nil
	}
	v, ok = n.rest.get(v)
	return v, ok, nil
}

type tplPiece struct {
	text string
	val  int // index into tplNode.vals, or -1 for text only
}

type tplNode struct {
	pieces []tplPiece // parsed template, nil when the template is a formula
	tmpl   node
	names  []string
	vals   []node
	dyn    node   // values given as a formula
	path   string // for errors
}

func (n *tplNode) eval(ev *evaluator, scope any) (any, bool, error) {
	var buf [128]byte
	b := buf[:0]
	// add appends the text of v, charged to the work budget.
	add := func(v any) error {
		var err error
		if b, err = ev.appendValue(b, v); err != nil {
			return &EvalError{Path: n.path, Err: err}
		}
		return nil
	}
	if n.pieces != nil {
		for _, p := range n.pieces {
			if err := add(p.text); err != nil {
				return nil, false, err
			}
			if p.val >= 0 {
				v, ok, err := n.vals[p.val].eval(ev, scope)
				if err != nil {
					return nil, false, err
				}
				if ok {
					if err := add(v); err != nil {
						return nil, false, err
					}
				}
			}
		}
		return string(b), true, nil
	}
	t, ok, err := n.tmpl.eval(ev, scope)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		return nil, false, nil
	}
	var values map[string]any
	if n.dyn != nil {
		v, ok, err := n.dyn.eval(ev, scope)
		if err != nil {
			return nil, false, err
		}
		if ok {
			values, _ = asObject(v)
		}
	}
	text, err := ev.appendValue(nil, t)
	if err != nil {
		return nil, false, &EvalError{Path: n.path, Err: err}
	}
	for _, p := range parseTemplate(string(text)) {
		if err := add(p.text); err != nil {
			return nil, false, err
		}
		if p.name == "" {
			continue
		}
		if values != nil {
			if err := add(values[p.name]); err != nil {
				return nil, false, err
			}
			continue
		}
		for i, name := range n.names {
			if name == p.name {
				v, ok, err := n.vals[i].eval(ev, scope)
				if err != nil {
					return nil, false, err
				}
				if ok {
					if err := add(v); err != nil {
						return nil, false, err
					}
				}
				break
			}
		}
	}
	return string(b), true, nil
}

// templatePiece is text followed by an optional ${locator}.
type templatePiece struct {
	text string
	loc  *locator
	name string // the placeholder as written, for errors
}

// templateNode is $template. A placeholder whose variable is undefined or
// null is an error: the docs do not say what it gives, and an empty string
// in, say, "Bearer ${credentials.apiKey}" would send a broken header
// without anyone noticing.
type templateNode struct {
	pieces []templatePiece
	path   string
}

func (n *templateNode) eval(ev *evaluator, scope any) (any, bool, error) {
	var b []byte
	for _, p := range n.pieces {
		var err error
		if b, err = ev.appendValue(b, p.text); err != nil {
			return nil, false, &EvalError{Path: n.path, Err: err}
		}
		if p.loc == nil {
			continue
		}
		v, ok := p.loc.get(scope)
		if !ok || v == nil {
			return nil, false, &EvalError{Path: n.path, Err: fmt.Errorf("$template placeholder ${%s} has no value", p.name)}
		}
		if b, err = ev.appendValue(b, v); err != nil {
			return nil, false, &EvalError{Path: n.path, Err: err}
		}
	}
	return string(b), true, nil
}

type rawPiece struct{ text, name string }

// parseTemplate splits a template into text and {name} placeholders.
func parseTemplate(t string) []rawPiece {
	var out []rawPiece
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(t[i+1:], '}')
		if j < 0 {
			break
		}
		name := strings.TrimSpace(t[i+1 : i+1+j])
		if !isPlaceholderName(name) {
			out = append(out, rawPiece{text: t[:i+1]})
			t = t[i+1:]
			continue
		}
		out = append(out, rawPiece{text: t[:i], name: name})
		t = t[i+2+j:]
	}
	if t != "" {
		out = append(out, rawPiece{text: t})
	}
	return out
}

func isPlaceholderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		ok := r == '_' || r == '-' || r == '.' || r == '$' ||
			r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !ok {
			return false
		}
	}
	return true
}

type concatNode struct {
	list  listArg
	delim node   // nil means ""
	path  string // for errors
}

func (n *concatNode) eval(ev *evaluator, scope any) (any, bool, error) {
	delim := ""
	if n.delim != nil {
		d, ok, err := n.delim.eval(ev, scope)
		if err != nil {
			return nil, false, err
		}
		if ok {
			text, err := ev.appendValue(nil, d)
			if err != nil {
				return nil, false, &EvalError{Path: n.path, Err: err}
			}
			delim = string(text)
		}
	}
	var buf [128]byte
	b := buf[:0]
	first := true
	var budgetErr error
	err := n.list.each(ev, scope, func(v any, ok bool) bool {
		if isBlank(v, ok) {
			return true
		}
		if !first {
			if b, budgetErr = ev.appendValue(b, delim); budgetErr != nil {
				return false
			}
		}
		first = false
		b, budgetErr = ev.appendValue(b, v)
		return budgetErr == nil
	})
	if err == nil && budgetErr != nil {
		err = &EvalError{Path: n.path, Err: budgetErr}
	}
	if err != nil {
		return nil, false, err
	}
	return string(b), true, nil
}

type firstNotEmptyNode struct{ list listArg }

func (n *firstNotEmptyNode) eval(ev *evaluator, scope any) (any, bool, error) {
	var out any
	found := false
	err := n.list.each(ev, scope, func(v any, ok bool) bool {
		if isBlank(v, ok) {
			return true
		}
		out, found = v, true
		return false
	})
	if err != nil || !found {
		return nil, false, err
	}
	return out, true, nil
}

// caseBranch is one case; a nil filter always matches.
type caseBranch struct{ filter, value node }

type caseNode struct {
	cases []caseBranch
	def   node // nil when absent
}

func (n *caseNode) eval(ev *evaluator, scope any) (any, bool, error) {
	for _, c := range n.cases {
		if c.filter == nil {
			return c.value.eval(ev, scope)
		}
		f, ok, err := c.filter.eval(ev, scope)
		if err != nil {
			return nil, false, err
		}
		if truthy(f, ok) {
			return c.value.eval(ev, scope)
		}
	}
	if n.def == nil {
		return nil, false, nil
	}
	return n.def.eval(ev, scope)
}

// allNode is a filter written as a list of conditions: true when every
// condition holds, so an empty list is true.
type allNode struct{ conds []node }

func (n *allNode) eval(ev *evaluator, scope any) (any, bool, error) {
	for _, c := range n.conds {
		v, ok, err := c.eval(ev, scope)
		if err != nil {
			return nil, false, err
		}
		if !truthy(v, ok) {
			return false, true, nil
		}
	}
	return true, true, nil
}

type boolListNode struct {
	list listArg
	and  bool
}

func (n *boolListNode) eval(ev *evaluator, scope any) (any, bool, error) {
	result := n.and
	err := n.list.each(ev, scope, func(v any, ok bool) bool {
		if truthy(v, ok) != n.and {
			result = !n.and
			return false
		}
		return true
	})
	if err != nil {
		return nil, false, err
	}
	return result, true, nil
}

type mapEntry struct{ from, to node }

type mapNode struct {
	value      node
	entries    []mapEntry
	def        node
	hasDefault bool
}

func (n *mapNode) eval(ev *evaluator, scope any) (any, bool, error) {
	v, ok, err := n.value.eval(ev, scope)
	if err != nil {
		return nil, false, err
	}
	for _, e := range n.entries {
		f, fok, err := e.from.eval(ev, scope)
		if err != nil {
			return nil, false, err
		}
		if ok == fok && (!ok || equal(v, f)) {
			return e.to.eval(ev, scope)
		}
	}
	if n.hasDefault {
		return n.def.eval(ev, scope)
	}
	// The formulas reference ($map): without a match or a default "the
	// output will be empty"; the unmapped value is not passed on.
	return nil, false, nil
}

type iterateNode struct {
	source node
	item   node
	path   string
	// weight is the number of compiled values in item, whose evaluation
	// every element pays for out of the work budget.
	weight int
}

func (n *iterateNode) eval(ev *evaluator, scope any) (any, bool, error) {
	src, ok, err := n.source.eval(ev, scope)
	if err != nil || !ok {
		return nil, false, err
	}
	list, isList := asList(src)
	switch {
	case src == nil:
		return nil, false, nil
	case !isList:
		// Iterating over a string or object would silently give nothing.
		return nil, false, &EvalError{Path: n.path, Err: fmt.Errorf("$iterate source is %s, not an array", kindOf(src))}
	}
	out := make([]any, 0, len(list))
	for i, el := range list {
		ev.steps++
		if ev.steps > maxIterateSteps {
			return nil, false, &EvalError{Path: n.path, Err: fmt.Errorf("$iterate visited more than %d elements", maxIterateSteps)}
		}
		if err := ev.spend(nodeCost * (1 + n.weight)); err != nil {
			return nil, false, &EvalError{Path: n.path, Err: err}
		}
		// The item sees its element, position and the scope around it.
		frame := map[string]any{"item": el, "index": int64(i), "parent": scope}
		v, ok, err := n.item.eval(ev, frame)
		if err != nil {
			return nil, false, err
		}
		if ok {
			out = append(out, v)
		}
	}
	if len(out) == 0 && len(list) > 0 {
		return nil, false, nil
	}
	return out, true, nil
}

type mergeNode struct {
	list listArg
	path string // for errors
}

func (n *mergeNode) eval(ev *evaluator, scope any) (any, bool, error) {
	var out map[string]any
	var budgetErr error
	err := n.list.each(ev, scope, func(v any, ok bool) bool {
		if !ok {
			return true
		}
		if m, isObj := asObject(v); isObj {
			if budgetErr = ev.spend(len(m)); budgetErr != nil {
				return false
			}
			if out == nil {
				out = make(map[string]any, len(m))
			}
			for k, x := range m {
				out[k] = x
			}
		}
		return true
	})
	if err == nil && budgetErr != nil {
		err = &EvalError{Path: n.path, Err: budgetErr}
	}
	if err != nil || out == nil {
		return nil, false, err
	}
	return out, true, nil
}

type evalOp int

const (
	opIs evalOp = iota
	opIsNot
	opOneOf
	opNoneOf
	opContains
	opDoesNotContain
	opGt
	opGte
	opLt
	opLte
	opIsEmpty
	opIsNotEmpty
)

var evalOps = map[string]evalOp{
	"is": opIs, "isNot": opIsNot, "oneOf": opOneOf, "noneOf": opNoneOf,
	"contains": opContains, "doesNotContain": opDoesNotContain,
	"gt": opGt, "gte": opGte, "lt": opLt, "lte": opLte,
	"isEmpty": opIsEmpty, "isNotEmpty": opIsNotEmpty,
}

type evalNode struct {
	op      evalOp
	value   node
	operand node    // is, isNot, contains, doesNotContain, comparisons
	list    listArg // oneOf, noneOf
}

func (n *evalNode) eval(ev *evaluator, scope any) (any, bool, error) {
	v, ok, err := n.value.eval(ev, scope)
	if err != nil {
		return nil, false, err
	}
	switch n.op {
	case opIsEmpty:
		return isEmpty(v, ok), true, nil
	case opIsNotEmpty:
		return !isEmpty(v, ok), true, nil
	case opOneOf, opNoneOf:
		found := false
		err := n.list.each(ev, scope, func(x any, xok bool) bool {
			found = sameValue(v, ok, x, xok)
			return !found
		})
		if err != nil {
			return nil, false, err
		}
		return found == (n.op == opOneOf), true, nil
	}
	o, ook, err := n.operand.eval(ev, scope)
	if err != nil {
		return nil, false, err
	}
	switch n.op {
	case opIs:
		return sameValue(v, ok, o, ook), true, nil
	case opIsNot:
		return !sameValue(v, ok, o, ook), true, nil
	case opContains:
		return contains(v, ok, o, ook), true, nil
	case opDoesNotContain:
		return !contains(v, ok, o, ook), true, nil
	}
	return compare(n.op, v, ok, o, ook), true, nil
}

// sameValue is equality where undefined equals only undefined.
func sameValue(a any, aok bool, b any, bok bool) bool {
	if !aok || !bok {
		return aok == bok
	}
	return equal(a, b)
}

// contains tests a substring for strings and an element for arrays.
func contains(v any, ok bool, o any, ook bool) bool {
	if !ok || !ook {
		return false
	}
	if s, isStr := v.(string); isStr {
		sub, isStr := o.(string)
		if !isStr {
			sub = toString(o)
		}
		return strings.Contains(s, sub)
	}
	if list, isList := asList(v); isList {
		for _, x := range list {
			if equal(x, o) {
				return true
			}
		}
	}
	return false
}

func compare(op evalOp, v any, ok bool, o any, ook bool) bool {
	if !ok || !ook {
		return false
	}
	var c int
	a, aNum := numberOrNumericString(v)
	b, bNum := numberOrNumericString(o)
	switch {
	case aNum && bNum:
		switch {
		case a < b:
			c = -1
		case a > b:
			c = 1
		case a == b:
			c = 0
		default:
			return false
		}
	default:
		s, sok := v.(string)
		t, tok := o.(string)
		if !sok || !tok {
			return false
		}
		c = strings.Compare(s, t)
	}
	switch op {
	case opGt:
		return c > 0
	case opGte:
		return c >= 0
	case opLt:
		return c < 0
	}
	return c <= 0
}

// exprNode is an expr-lang program; path names it in runtime errors.
type exprNode struct {
	prog *vm.Program
	path string
}

func (n *exprNode) eval(ev *evaluator, scope any) (v any, ok bool, err error) {
	// The variables, and the evaluator under exprMeter for the guard
	// functions of the program (exprguard.go) to charge.
	vars, _ := scope.(map[string]any)
	env := make(map[string]any, len(vars)+1)
	maps.Copy(env, vars)
	env[exprMeter] = ev
	out, err := expr.Run(n.prog, env)
	if err != nil {
		return nil, false, &EvalError{Path: n.path, Err: fmt.Errorf("$expr: %w", err)}
	}
	if out == nil {
		return nil, false, nil
	}
	return out, true, nil
}
