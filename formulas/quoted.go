package formulas

import (
	"fmt"
	"strconv"
	"strings"
)

// personNameNode is $firstName / $lastName: the first word of a full name,
// or the words after it. Following the formulas reference
// (https://console.integration.app/docs/membrane/references/formulas,
// "$firstName", "$lastName"), a one-word name is a last name, so $firstName
// of it is undefined. A value that is not a string is an evaluation error.
type personNameNode struct {
	value node
	last  bool
	path  string
}

func (n *personNameNode) eval(ev *evaluator, scope any) (any, bool, error) {
	v, ok, err := n.value.eval(ev, scope)
	if err != nil || !ok || v == nil {
		return nil, false, err
	}
	s, isString := v.(string)
	if !isString {
		name := "$firstName"
		if n.last {
			name = "$lastName"
		}
		return nil, false, &EvalError{Path: n.path, Err: fmt.Errorf("%s expects a name (a string), not %s", name, kindOf(v))}
	}
	words := strings.Fields(s)
	switch {
	case len(words) == 0:
		return nil, false, nil
	case n.last && len(words) == 1:
		return words[0], true, nil
	case n.last:
		return strings.Join(words[1:], " "), true, nil
	case len(words) == 1:
		return nil, false, nil
	}
	return words[0], true, nil
}

// quotedNode is one value inside $formula: a scalar, a $var to substitute,
// or an object or array (formula keys included) kept as written.
type quotedNode struct {
	value any      // scalars
	loc   *locator // a {$var: locator} to replace by the variable
	name  string   // the locator as written, for messages
	keys  []string // objects
	items []*quotedNode
	seq   bool
}

// quoted compiles the argument of $formula: every {$var: locator} in it is
// read from the variables, everything else (formulas included) is kept.
func (c *compiler) quoted(s *srcNode, path string) *quotedNode {
	switch s.kind {
	case srcSeq:
		q := &quotedNode{seq: true, items: make([]*quotedNode, len(s.items))}
		for i, it := range s.items {
			q.items[i] = c.quoted(it, path+"/"+strconv.Itoa(i))
		}
		return q
	case srcMap:
		if len(s.keys) > 0 && s.keys[0] == "$var" {
			vpath := path + "/$var"
			at := s.pos
			if s.keyPos[0] != (pos{}) {
				at = s.keyPos[0]
			}
			for i := 1; i < len(s.keys); i++ {
				c.warnf(s.keyPos[i], path+"/"+escapePointer(s.keys[i]), "key %q next to $var is ignored", s.keys[i])
			}
			loc, ok := c.locatorArg("$var", s.items[0], vpath)
			if !ok || !c.readsScope(loc, at, vpath) {
				return &quotedNode{}
			}
			return &quotedNode{loc: &loc, name: loc.text}
		}
		q := &quotedNode{keys: s.keys, items: make([]*quotedNode, len(s.items))}
		for i, k := range s.keys {
			q.items[i] = c.quoted(s.items[i], path+"/"+escapePointer(k))
		}
		return q
	}
	return &quotedNode{value: s.value}
}

// quotedFormulaNode is $formula
// (https://console.integration.app/docs/membrane/references/formulas,
// "$formula"): its argument as written, with each $var replaced by the
// variable's value, so that the result may itself be a formula. A $var
// without a value is an evaluation error: leaving it out would change the
// formula produced.
type quotedFormulaNode struct {
	tree   *quotedNode
	weight int
	path   string
}

func (n *quotedFormulaNode) eval(ev *evaluator, scope any) (any, bool, error) {
	if err := ev.spend(n.weight); err != nil {
		return nil, false, &EvalError{Path: n.path, Err: err}
	}
	v, err := n.tree.build(scope)
	if err != nil {
		return nil, false, &EvalError{Path: n.path, Err: err}
	}
	return v, true, nil
}

func (q *quotedNode) build(scope any) (any, error) {
	switch {
	case q.loc != nil:
		v, ok := q.loc.get(scope)
		if !ok {
			return nil, fmt.Errorf("$formula: $var %s has no value", q.name)
		}
		return deepCopy(v), nil
	case q.seq:
		out := make([]any, len(q.items))
		for i, it := range q.items {
			v, err := it.build(scope)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case q.keys != nil:
		out := make(map[string]any, len(q.keys))
		for i, k := range q.keys {
			v, err := q.items[i].build(scope)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	}
	return q.value, nil
}

// kindOf names the JSON kind of a value for messages (never the value,
// which may be a secret).
func kindOf(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}
