package formulas

import (
	"strings"

	"github.com/expr-lang/expr/ast"
)

// exprReferences lists the variables an expression reads: free identifiers
// with the longest chain of constant member names after them
// ("credentials.access_token"). Function names, let-bound names and
// predicate pointers (#) are not variables.
func exprReferences(root ast.Node) []Reference {
	w := refWalker{bound: map[string]int{}, seen: map[string]bool{}}
	w.walk(root, 0)
	return w.refs
}

type refWalker struct {
	refs  []Reference
	bound map[string]int
	seen  map[string]bool
}

// exprMaxDepth bounds the walk; expr already limits programs to 10,000 nodes.
const exprMaxDepth = 10_000

func (w *refWalker) add(name, locator string) {
	if w.bound[name] > 0 {
		return
	}
	if w.seen[locator] {
		return
	}
	w.seen[locator] = true
	w.refs = append(w.refs, Reference{Root: name, Locator: locator})
}

func (w *refWalker) walk(n ast.Node, depth int) {
	if n == nil || depth > exprMaxDepth {
		return
	}
	d := depth + 1
	switch t := n.(type) {
	case *ast.IdentifierNode:
		w.add(t.Value, t.Value)
	case *ast.MemberNode:
		// Collect a.b.c down to the identifier when every property is a constant name.
		var names []string
		cur := ast.Node(t)
		for {
			m, ok := cur.(*ast.MemberNode)
			if !ok {
				break
			}
			s, ok := m.Property.(*ast.StringNode)
			if !ok {
				break
			}
			names = append(names, s.Value)
			cur = m.Node
		}
		if id, ok := cur.(*ast.IdentifierNode); ok && len(names) > 0 && cur != ast.Node(t) {
			parts := []string{id.Value}
			for i := len(names) - 1; i >= 0; i-- {
				parts = append(parts, names[i])
			}
			w.add(id.Value, strings.Join(parts, "."))
			return
		}
		w.walk(t.Node, d)
		w.walk(t.Property, d)
	case *ast.CallNode:
		if _, ok := t.Callee.(*ast.IdentifierNode); !ok {
			w.walk(t.Callee, d)
		}
		for _, a := range t.Arguments {
			w.walk(a, d)
		}
	case *ast.VariableDeclaratorNode:
		w.walk(t.Value, d)
		w.bound[t.Name]++
		w.walk(t.Expr, d)
		w.bound[t.Name]--
	case *ast.UnaryNode:
		w.walk(t.Node, d)
	case *ast.BinaryNode:
		w.walk(t.Left, d)
		w.walk(t.Right, d)
	case *ast.ChainNode:
		w.walk(t.Node, d)
	case *ast.SliceNode:
		w.walk(t.Node, d)
		w.walk(t.From, d)
		w.walk(t.To, d)
	case *ast.BuiltinNode:
		for _, a := range t.Arguments {
			w.walk(a, d)
		}
	case *ast.PredicateNode:
		w.walk(t.Node, d)
	case *ast.SequenceNode:
		for _, x := range t.Nodes {
			w.walk(x, d)
		}
	case *ast.ConditionalNode:
		w.walk(t.Cond, d)
		w.walk(t.Exp1, d)
		w.walk(t.Exp2, d)
	case *ast.ArrayNode:
		for _, x := range t.Nodes {
			w.walk(x, d)
		}
	case *ast.MapNode:
		for _, x := range t.Pairs {
			w.walk(x, d)
		}
	case *ast.PairNode:
		w.walk(t.Key, d)
		w.walk(t.Value, d)
	}
}
