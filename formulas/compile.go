package formulas

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"

	"github.com/connspec/connspec/internal/suggest"
)

// formulaNames are the formulas this package compiles.
var formulaNames = map[string]struct{}{
	"$var": {}, "$tpl": {}, "$concat": {}, "$firstNotEmpty": {}, "$case": {},
	"$eval": {}, "$and": {}, "$or": {}, "$map": {}, "$iterate": {},
	"$mergeObjects": {}, "$copy": {}, "$plain": {}, "$expr": {}, "$template": {},
	"$firstName": {}, "$lastName": {}, "$formula": {},
}

// unsupportedFormulas are the formulas of the integration.app / Membrane
// formulas reference (https://console.integration.app/docs/membrane/references/formulas,
// "List of Formulas") that need the platform behind it, with the reason a
// connector that uses one is refused.
var unsupportedFormulas = map[string]string{
	"$lookup":               "it finds or creates a record in an integration.app data collection",
	"$findExternalRecordId": "it reads an integration.app data link table",
	"$findAppRecordId":      "it reads an integration.app data link table",
	"$dataSchemaRef":        "it resolves an integration.app data schema or data collection",
	"$jsonata":              "JSONata expressions are not implemented; use $expr",
	// The reference's $copy example calls it, but no section defines it.
	"$extractFirstName": "the formulas reference does not define it; $firstName extracts a first name",
}

// compiler turns srcNodes into nodes, collecting problems and references.
type compiler struct {
	problems []Problem
	refs     []Reference
	dynamic  bool // a formula other than $plain was seen
	obj      *objScope
	inItem   int // >0 inside an $iterate item
	// weight counts the values compiled so far ($plain contents included),
	// from which an $iterate item's cost per element is known.
	weight int
}

// objScope is the literal object whose fields $copy can read.
type objScope struct {
	index map[string]int
	field int      // field being compiled
	deps  [][]cdep // per field: the fields it copies
	node  *objectNode
}

type cdep struct {
	target int
	at     pos
	path   string
}

func (c *compiler) problem(sev Severity, p pos, path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Severity: sev, Line: p.line, Column: p.col, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *compiler) errorf(p pos, path, format string, args ...any) {
	c.problem(SeverityError, p, path, format, args...)
}

func (c *compiler) warnf(p pos, path, format string, args ...any) {
	c.problem(SeverityWarning, p, path, format, args...)
}

func isFormulaObject(s *srcNode) bool {
	return s.kind == srcMap && len(s.keys) > 0 && strings.HasPrefix(s.keys[0], "$")
}

// value compiles any mapping value.
func (c *compiler) value(s *srcNode, path string) node {
	c.weight++
	switch s.kind {
	case srcSeq:
		a := &arrayNode{items: make([]node, len(s.items))}
		for i, it := range s.items {
			a.items[i] = c.value(it, path+"/"+strconv.Itoa(i))
		}
		return a
	case srcMap:
		if isFormulaObject(s) {
			return c.formula(s, path)
		}
		return c.object(s, path)
	}
	return constNode{s.value}
}

func (c *compiler) object(s *srcNode, path string) node {
	o := &objectNode{keys: s.keys, vals: make([]node, len(s.keys))}
	sc := &objScope{index: make(map[string]int, len(s.keys)), deps: make([][]cdep, len(s.keys)), node: o}
	for i, k := range s.keys {
		sc.index[k] = i
		if i > 0 {
			c.checkLiteralDollarKey(k, s.keyPos[i], path+"/"+escapePointer(k))
		}
	}
	saved := c.obj
	c.obj = sc
	for i, k := range s.keys {
		sc.field = i
		o.vals[i] = c.value(s.items[i], path+"/"+escapePointer(k))
	}
	c.obj = saved
	if o.framed {
		order, cycle, closing := evaluationOrder(sc.deps)
		if cycle != nil {
			names := make([]string, len(cycle))
			for i, f := range cycle {
				names[i] = strconv.Quote(s.keys[f])
			}
			c.errorf(closing.at, closing.path, "$copy cycle: %s", strings.Join(names, " -> "))
		}
		o.order = order
	}
	return o
}

// checkLiteralDollarKey warns about a formula name, or a near miss of one,
// used as a literal key (not first in its object), so that it is not sent
// as a key named "$tpl" or "$lookup" without anyone noticing.
func (c *compiler) checkLiteralDollarKey(k string, at pos, path string) {
	if !strings.HasPrefix(k, "$") {
		return
	}
	_, known := formulaNames[k]
	why, unsupported := unsupportedFormulas[k]
	switch {
	case known:
		c.warnf(at, path, "key %s is not the first key of its object, so the object is not a formula but a literal key", k)
	case unsupported:
		c.warnf(at, path, "key %s is not the first key of its object, so it is a literal key (and formula %s is not supported: %s)", k, k, why)
	default:
		// Any other $-key is most likely a formula name; say that it is sent
		// as a literal key rather than let it pass unnoticed.
		c.warnf(at, path, "key %s starts with $ but is not a formula (only the first key of an object can name one), so it is a literal key%s", k, suggest.Hint(k, KnownFormulas()))
	}
}

// evaluationOrder sorts fields so that each comes after the fields it
// copies, keeping source order otherwise. On a cycle it returns the fields
// of the cycle (first repeated at the end) and the $copy that closes it.
// It is iterative so that long chains cannot exhaust the stack.
func evaluationOrder(deps [][]cdep) (order, cycle []int, closing cdep) {
	state := make([]uint8, len(deps)) // 0 new, 1 in progress, 2 done
	type frame struct{ field, next int }
	for start := range deps {
		if state[start] != 0 {
			continue
		}
		stack := []frame{{start, 0}}
		state[start] = 1
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next == len(deps[top.field]) {
				state[top.field] = 2
				order = append(order, top.field)
				stack = stack[:len(stack)-1]
				continue
			}
			d := deps[top.field][top.next]
			top.next++
			switch state[d.target] {
			case 0:
				state[d.target] = 1
				stack = append(stack, frame{d.target, 0})
			case 1:
				i := len(stack) - 1
				for stack[i].field != d.target {
					i--
				}
				for _, f := range stack[i:] {
					cycle = append(cycle, f.field)
				}
				return nil, append(cycle, d.target), d
			}
		}
	}
	return order, nil, cdep{}
}

// formulaArgs reads the object argument of a formula, warning about keys
// other than the allowed ones.
func (c *compiler) formulaArgs(name string, arg *srcNode, path string, allowed ...string) (map[string]*srcNode, bool) {
	if arg.kind != srcMap || isFormulaObject(arg) {
		c.errorf(arg.pos, path, "%s expects an object with %s", name, strings.Join(allowed, ", "))
		return nil, false
	}
	out := make(map[string]*srcNode, len(arg.keys))
	for i, k := range arg.keys {
		if !slices.Contains(allowed, k) {
			c.warnf(arg.keyPos[i], path+"/"+escapePointer(k), "%s ignores key %q%s", name, k, suggest.Hint(k, allowed))
			continue
		}
		out[k] = arg.items[i]
	}
	return out, true
}

// list compiles a list operand: written items, or a formula giving an array.
func (c *compiler) list(name string, arg *srcNode, path string) listArg {
	if arg.kind == srcSeq {
		items := make([]node, len(arg.items))
		for i, it := range arg.items {
			items[i] = c.value(it, path+"/"+strconv.Itoa(i))
		}
		return listArg{items: items}
	}
	if !isFormulaObject(arg) {
		c.errorf(arg.pos, path, "%s expects a list", name)
		return listArg{}
	}
	return listArg{dyn: c.value(arg, path)}
}

func (c *compiler) formula(s *srcNode, path string) node {
	name, arg := s.keys[0], s.items[0]
	fpath := path + "/" + escapePointer(name)
	at := s.pos
	if s.keyPos[0] != (pos{}) {
		at = s.keyPos[0]
	}
	if _, ok := formulaNames[name]; !ok {
		if why, ok := unsupportedFormulas[name]; ok {
			c.errorf(at, fpath, "formula %s is not supported: %s", name, why)
		} else {
			c.errorf(at, fpath, "unknown formula %s%s", name, suggest.Hint(name, KnownFormulas()))
		}
		return undefinedNode{}
	}
	if name == "$eval" {
		return c.evalFormula(s, path)
	}
	for i := 1; i < len(s.keys); i++ {
		c.warnf(s.keyPos[i], path+"/"+escapePointer(s.keys[i]), "key %q next to %s is ignored", s.keys[i], name)
	}
	if name != "$plain" {
		c.dynamic = true
	}
	switch name {
	case "$plain":
		if arg.kind == srcScalar {
			return constNode{arg.value}
		}
		n := plainNode{v: plainValue(arg), weight: srcSize(arg), path: fpath}
		c.weight += n.weight
		return n
	case "$var":
		loc, ok := c.locatorArg(name, arg, fpath)
		if !ok || !c.readsScope(loc, at, fpath) {
			return undefinedNode{}
		}
		return &varNode{loc: loc}
	case "$copy":
		return c.copyFormula(arg, at, fpath)
	case "$expr":
		return c.exprFormula(arg, at, fpath)
	case "$concat":
		if arg.kind == srcMap && !isFormulaObject(arg) {
			args, ok := c.formulaArgs(name, arg, fpath, "values", "delimiter")
			if !ok {
				return undefinedNode{}
			}
			n := &concatNode{path: fpath}
			if v, ok := args["values"]; ok {
				n.list = c.list(name+" values", v, fpath+"/values")
			} else {
				c.errorf(arg.pos, fpath, "$concat needs values")
			}
			if d, ok := args["delimiter"]; ok {
				n.delim = c.value(d, fpath+"/delimiter")
			}
			return n
		}
		return &concatNode{list: c.list(name, arg, fpath), path: fpath}
	case "$firstNotEmpty":
		return &firstNotEmptyNode{list: c.list(name, arg, fpath)}
	case "$and", "$or":
		return &boolListNode{list: c.list(name, arg, fpath), and: name == "$and"}
	case "$mergeObjects":
		return &mergeNode{list: c.list(name, arg, fpath), path: fpath}
	case "$tpl":
		return c.tplFormula(arg, fpath)
	case "$template":
		return c.templateFormula(arg, fpath)
	case "$case":
		return c.caseFormula(arg, fpath)
	case "$firstName", "$lastName":
		return &personNameNode{value: c.value(arg, fpath), last: name == "$lastName", path: fpath}
	case "$formula":
		n := &quotedFormulaNode{tree: c.quoted(arg, fpath), weight: srcSize(arg), path: fpath}
		c.weight += n.weight
		return n
	case "$map":
		return c.mapFormula(arg, fpath)
	case "$iterate":
		args, ok := c.formulaArgs(name, arg, fpath, "source", "item")
		if !ok {
			return undefinedNode{}
		}
		src, hasSrc := args["source"]
		item, hasItem := args["item"]
		if !hasSrc || !hasItem {
			c.errorf(arg.pos, fpath, "$iterate needs source and item")
			return undefinedNode{}
		}
		n := &iterateNode{source: c.value(src, fpath+"/source"), path: fpath}
		c.inItem++
		before := c.weight
		n.item = c.value(item, fpath+"/item")
		// An enclosing $iterate does not pay for this item: it is charged
		// per element of this one.
		n.weight, c.weight = c.weight-before, before
		c.inItem--
		return n
	}
	return undefinedNode{}
}

func (c *compiler) locatorArg(name string, arg *srcNode, path string) (locator, bool) {
	text, ok := arg.value.(string)
	if arg.kind != srcScalar || !ok {
		c.errorf(arg.pos, path, "%s expects a locator string such as $.credentials.token", name)
		return locator{}, false
	}
	loc, err := parseLocator(text)
	if err != nil {
		c.errorf(arg.pos, path, "%s: %v", name, err)
		return locator{}, false
	}
	return loc, true
}

// iterateNames are the variables inside an $iterate item: the element, its
// zero-based position and the scope around the $iterate.
var iterateNames = []string{"item", "index", "parent"}

// readsScope checks a locator that reads the current scope and records it
// as a Reference when it reads the mapping's variables. Inside an $iterate
// item the scope is {item, index, parent}, so any other root would read
// nothing: that is refused rather than left to give an empty value.
func (c *compiler) readsScope(loc locator, at pos, path string) bool {
	if c.inItem > 0 {
		root := loc.root()
		if !slices.Contains(iterateNames, root) {
			what := "$"
			if root != "" {
				what = loc.text
			}
			c.errorf(at, path, "inside an $iterate item, locators start with $.item (the element), $.index or $.parent (the scope around the $iterate); %q reads nothing: write $.item%s", what, dotted(loc.text))
			return false
		}
	}
	// $.parent.parent... climbs out of every enclosing item: what follows
	// reads the mapping's variables.
	segs := loc.segs
	for depth := c.inItem; depth > 0; depth-- {
		if len(segs) == 0 || segs[0].key != "parent" {
			return true
		}
		segs = segs[1:]
	}
	if c.inItem > 0 && len(segs) == 0 {
		return true
	}
	root := ""
	if len(segs) > 0 {
		root = segs[0].key
	}
	c.refs = append(c.refs, Reference{Root: root, Locator: loc.text, Line: at.line, Column: at.col})
	return true
}

// dotted returns ".a.b" for the locator "a.b" or "$.a.b", "" for "$".
func dotted(text string) string {
	t := strings.TrimPrefix(text, "$")
	if t == "" || t == "." {
		return ""
	}
	if !strings.HasPrefix(t, ".") && !strings.HasPrefix(t, "[") {
		t = "." + t
	}
	return t
}

func (c *compiler) copyFormula(arg *srcNode, at pos, path string) node {
	loc, ok := c.locatorArg("$copy", arg, path)
	if !ok {
		return undefinedNode{}
	}
	sc := c.obj
	if sc == nil {
		c.errorf(at, path, "$copy must be inside an object: it copies a sibling field")
		return undefinedNode{}
	}
	if len(loc.segs) == 0 {
		c.errorf(at, path, "$copy needs a field name")
		return undefinedNode{}
	}
	key := loc.segs[0].key
	target, ok := sc.index[key]
	if !ok {
		keys := make([]string, 0, len(sc.index))
		for k := range sc.index {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		c.warnf(at, path, "$copy reads field %q, which this object does not have%s", key, suggest.Hint(key, keys))
		return undefinedNode{}
	}
	if target == sc.field {
		c.errorf(at, path, "$copy of field %q reads itself", key)
		return undefinedNode{}
	}
	sc.deps[sc.field] = append(sc.deps[sc.field], cdep{target: target, at: at, path: path})
	sc.node.framed = true
	return &copyNode{key: key, rest: locator{text: loc.text, segs: loc.segs[1:]}}
}

func (c *compiler) exprFormula(arg *srcNode, at pos, path string) node {
	src, ok := arg.value.(string)
	if arg.kind != srcScalar || !ok {
		c.errorf(arg.pos, path, "$expr expects an expression string")
		return undefinedNode{}
	}
	prog, err := expr.Compile(src, expr.AllowUndefinedVariables())
	if err != nil {
		var fe *file.Error
		if !errors.As(err, &fe) {
			c.errorf(at, path, "$expr does not compile: %s", err.Error())
			return undefinedNode{}
		}
		p := Problem{Severity: SeverityError, Line: at.line, Column: at.col, Path: path, ExprLine: fe.Line, ExprColumn: fe.Column + 1}
		if fe.Line == 1 && arg.textOffset >= 0 && arg.line > 0 {
			// One line of plain or quoted text: point into the YAML itself.
			p.Line, p.Column = arg.line, arg.col+arg.textOffset+fe.Column
			p.Message = "$expr does not compile: " + fe.Message
		} else {
			p.Message = fmt.Sprintf("$expr does not compile: %s (line %d, column %d of the expression)", fe.Message, fe.Line, fe.Column+1)
		}
		c.problems = append(c.problems, p)
		return undefinedNode{}
	}
	for _, r := range exprReferences(prog.Node()) {
		if c.inItem > 0 {
			// The expression runs against {item, index, parent}.
			if !slices.Contains(iterateNames, r.Root) {
				c.errorf(at, path, "inside an $iterate item, $expr reads item, index or parent; %q is undefined there: write item.%s", r.Root, r.Locator)
				return undefinedNode{}
			}
			continue
		}
		r.Line, r.Column = at.line, at.col
		c.refs = append(c.refs, r)
	}
	// What runs is the same expression with its work charged to the
	// evaluation's budget (exprguard.go).
	guarded, err := compileGuarded(src)
	if err != nil {
		c.errorf(at, path, "$expr cannot be guarded against unbounded work: %s", err.Error())
		return undefinedNode{}
	}
	return &exprNode{prog: guarded, path: path}
}

func (c *compiler) tplFormula(arg *srcNode, path string) node {
	args, ok := c.formulaArgs("$tpl", arg, path, "template", "values")
	if !ok {
		return undefinedNode{}
	}
	t, ok := args["template"]
	if !ok {
		c.errorf(arg.pos, path, "$tpl needs template")
		return undefinedNode{}
	}
	n := &tplNode{path: path}
	if v, ok := args["values"]; ok {
		switch {
		case isFormulaObject(v):
			n.dyn = c.value(v, path+"/values")
		case v.kind == srcMap:
			for i, k := range v.keys {
				n.names = append(n.names, k)
				n.vals = append(n.vals, c.value(v.items[i], path+"/values/"+escapePointer(k)))
			}
		case v.kind == srcScalar && v.value == nil:
		default:
			c.errorf(v.pos, path+"/values", "$tpl values must be an object")
		}
	}
	text, isText := t.value.(string)
	if t.kind != srcScalar || !isText {
		if t.kind == srcScalar {
			c.errorf(t.pos, path+"/template", "$tpl template must be a string")
			return undefinedNode{}
		}
		n.tmpl = c.value(t, path+"/template")
		return n
	}
	if n.dyn != nil {
		// Value names are only known at run time.
		n.tmpl = constNode{text}
		return n
	}
	n.pieces = []tplPiece{}
	for _, p := range parseTemplate(text) {
		piece := tplPiece{text: p.text, val: -1}
		if p.name != "" {
			piece.val = slices.Index(n.names, p.name)
			if piece.val < 0 {
				c.warnf(t.pos, path+"/template", "$tpl placeholder {%s} has no value; it gives an empty string%s", p.name, suggest.Hint(p.name, n.names))
			}
		}
		n.pieces = append(n.pieces, piece)
	}
	return n
}

// templateFormula compiles $template: "text ${locator} text", the form of
// integration.app's client-credentials page
// (https://console.integration.app/docs/connector-builder/authentication/types/client-credentials,
// "API Client Configuration"). A placeholder holds a variable path, read like
// $var; anything else in it (an expression such as ${base64(a + b)}) is a
// compile error, as is a template that is not a string.
func (c *compiler) templateFormula(arg *srcNode, path string) node {
	text, ok := arg.value.(string)
	if arg.kind != srcScalar || !ok {
		c.errorf(arg.pos, path, "$template expects a string such as \"Bearer ${credentials.apiKey}\"")
		return undefinedNode{}
	}
	n := &templateNode{path: path}
	for rest := text; rest != ""; {
		i := strings.Index(rest, "${")
		if i < 0 {
			n.pieces = append(n.pieces, templatePiece{text: rest})
			break
		}
		j := strings.IndexByte(rest[i+2:], '}')
		if j < 0 {
			c.errorf(arg.pos, path, "$template: placeholder %q is not closed with }", rest[i:])
			return undefinedNode{}
		}
		inner := strings.TrimSpace(rest[i+2 : i+2+j])
		loc, err := parseLocator(inner)
		if err != nil || !isTemplatePath(inner) {
			c.errorf(arg.pos, path, "$template: placeholder ${%s} is not a variable path: only ${path} (such as ${credentials.apiKey}) is supported, not expressions; compute the value with $expr, or send basic auth with makeApiClient's auth: {username, password}", inner)
			return undefinedNode{}
		}
		if !c.readsScope(loc, arg.pos, path) {
			return undefinedNode{}
		}
		n.pieces = append(n.pieces, templatePiece{text: rest[:i], loc: &loc, name: inner})
		rest = rest[i+3+j:]
	}
	return n
}

// isTemplatePath reports whether a placeholder holds only a locator: no
// spaces, calls, operators or quotes.
func isTemplatePath(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.$[]") == ""
}

func (c *compiler) caseFormula(arg *srcNode, path string) node {
	n := &caseNode{}
	cases, casesPath := arg, path
	if arg.kind != srcSeq {
		// {cases, default}; a bare list of cases is the older form.
		args, ok := c.formulaArgs("$case", arg, path, "cases", "default")
		if !ok {
			return undefinedNode{}
		}
		var has bool
		if cases, has = args["cases"]; !has {
			c.errorf(arg.pos, path, "$case needs cases")
		}
		casesPath = path + "/cases"
		if d, ok := args["default"]; ok {
			n.def = c.value(d, path+"/default")
		}
	}
	switch {
	case cases == nil:
	case cases.kind != srcSeq:
		c.errorf(cases.pos, casesPath, "$case cases must be a list")
	default:
		c.caseBranches(n, cases, casesPath)
	}
	return n
}

// caseBranches compiles each {filter, value}; a case without filter always
// matches, so nothing after it (nor default) can be chosen.
func (c *compiler) caseBranches(n *caseNode, cases *srcNode, path string) {
	elseAt := -1
	for i, cs := range cases.items {
		cpath := path + "/" + strconv.Itoa(i)
		fields, ok := c.formulaArgs("$case case", cs, cpath, "filter", "value")
		if !ok {
			continue
		}
		if elseAt >= 0 {
			c.warnf(cs.pos, cpath, "$case case %d is never chosen: case %d has no filter and always matches", i, elseAt)
		}
		b := caseBranch{value: undefinedNode{}}
		if f, hasFilter := fields["filter"]; hasFilter {
			b.filter = c.caseFilter(f, cpath+"/filter")
		} else if elseAt < 0 {
			elseAt = i
		}
		if v, ok := fields["value"]; ok {
			b.value = c.value(v, cpath+"/value")
		}
		n.cases = append(n.cases, b)
	}
	if elseAt >= 0 && n.def != nil {
		c.warnf(cases.pos, path, "$case default is never used: case %d has no filter and always matches", elseAt)
	}
}

// caseFilter compiles a case filter: a list of {field, operator, value}
// conditions that must all hold (no condition always holds), or a formula
// such as $eval whose result is tested for truthiness. A plain object would
// always be truthy, so it is refused.
func (c *compiler) caseFilter(f *srcNode, path string) node {
	switch {
	case f.kind == srcSeq:
		all := &allNode{conds: make([]node, 0, len(f.items))}
		for i, it := range f.items {
			if cond := c.condition(it, path+"/"+strconv.Itoa(i)); cond != nil {
				all.conds = append(all.conds, cond)
			}
		}
		return all
	case f.kind == srcMap && !isFormulaObject(f):
		c.errorf(f.pos, path, "$case filter must be a list of {field, operator, value} conditions or a formula such as $eval")
		return undefinedNode{}
	}
	return c.value(f, path)
}

// condition compiles one {field, operator, value} filter condition into the
// $eval test it stands for.
func (c *compiler) condition(s *srcNode, path string) node {
	if s.kind != srcMap || isFormulaObject(s) {
		c.errorf(s.pos, path, "a filter condition is an object {field, operator, value}")
		return nil
	}
	keys := []string{"field", "operator", "value"}
	fields := make(map[string]*srcNode, len(s.keys))
	for i, k := range s.keys {
		if !slices.Contains(keys, k) {
			// A misspelt key would change what the condition tests.
			c.errorf(s.keyPos[i], path+"/"+escapePointer(k), "unknown filter condition key %q%s; a condition has field, operator and value", k, suggest.Hint(k, keys))
			return nil
		}
		fields[k] = s.items[i]
	}
	field, hasField := fields["field"]
	opSrc, hasOp := fields["operator"]
	if !hasField || !hasOp {
		c.errorf(s.pos, path, "a filter condition needs field and operator")
		return nil
	}
	loc, ok := c.locatorArg("filter condition field", field, path+"/field")
	if !ok || !c.readsScope(loc, field.pos, path+"/field") {
		return nil
	}
	opName, _ := opSrc.value.(string)
	op, known := evalOps[opName]
	if opSrc.kind != srcScalar || !known {
		c.errorf(opSrc.pos, path+"/operator", "unknown filter operator %s%s; known: %s", quoteSrc(opSrc), suggest.Hint(opName, evalOpNames()), strings.Join(evalOpNames(), ", "))
		return nil
	}
	n := &evalNode{op: op, value: &varNode{loc: loc}}
	operand, hasValue := fields["value"]
	switch {
	case op == opIsEmpty || op == opIsNotEmpty:
		if hasValue {
			c.warnf(operand.pos, path+"/value", "operator %s ignores value", opName)
		}
	case !hasValue:
		c.errorf(s.pos, path, "filter condition with operator %s needs value", opName)
		return nil
	case op == opOneOf || op == opNoneOf:
		n.list = c.list("filter operator "+opName, operand, path+"/value")
	default:
		n.operand = c.value(operand, path+"/value")
	}
	return n
}

// quoteSrc shows a scalar as written, or its kind.
func quoteSrc(s *srcNode) string {
	if s.kind == srcScalar {
		return strconv.Quote(fmt.Sprint(s.value))
	}
	return "(not a name)"
}

func evalOpNames() []string {
	return slices.Sorted(maps.Keys(evalOps))
}

func (c *compiler) mapFormula(arg *srcNode, path string) node {
	args, ok := c.formulaArgs("$map", arg, path, "value", "mapping", "mappings", "default")
	if !ok {
		return undefinedNode{}
	}
	n := &mapNode{value: undefinedNode{}}
	if v, ok := args["value"]; ok {
		n.value = c.value(v, path+"/value")
	} else {
		c.errorf(arg.pos, path, "$map needs value")
	}
	table, key := args["mapping"], "mapping"
	if alt, ok := args["mappings"]; ok {
		if table != nil {
			c.warnf(alt.pos, path+"/mappings", "$map has both mapping and mappings; mappings is ignored")
		} else {
			table, key = alt, "mappings"
		}
	}
	switch {
	case table == nil:
		c.errorf(arg.pos, path, "$map needs mapping")
	case table.kind != srcSeq:
		c.errorf(table.pos, path+"/"+key, "$map %s must be a list of {from, to}", key)
	default:
		for i, e := range table.items {
			epath := path + "/" + key + "/" + strconv.Itoa(i)
			fields, ok := c.formulaArgs("$map entry", e, epath, "from", "to")
			if !ok {
				continue
			}
			from, hasFrom := fields["from"]
			if !hasFrom {
				c.errorf(e.pos, epath, "$map entry needs from")
				continue
			}
			entry := mapEntry{from: c.value(from, epath+"/from"), to: undefinedNode{}}
			if to, ok := fields["to"]; ok {
				entry.to = c.value(to, epath+"/to")
			}
			n.entries = append(n.entries, entry)
		}
	}
	if d, ok := args["default"]; ok {
		n.def, n.hasDefault = c.value(d, path+"/default"), true
	}
	return n
}

func (c *compiler) evalFormula(s *srcNode, path string) node {
	c.dynamic = true
	fpath := path + "/$eval"
	n := &evalNode{value: c.value(s.items[0], fpath)}
	found := -1
	ops := evalOpNames()
	for i := 1; i < len(s.keys); i++ {
		k := s.keys[i]
		kpath := path + "/" + escapePointer(k)
		op, ok := evalOps[k]
		if !ok {
			c.errorf(s.keyPos[i], kpath, "unknown $eval operator %q%s", k, suggest.Hint(k, ops))
			continue
		}
		if found >= 0 {
			c.errorf(s.keyPos[i], kpath, "$eval has several operators (%s and %s); use $and or $or to combine them", s.keys[found], k)
			continue
		}
		found = i
		n.op = op
		operand := s.items[i]
		switch op {
		case opIsEmpty, opIsNotEmpty:
			// The operand is ignored, as in integration.app.
		case opOneOf, opNoneOf:
			n.list = c.list("$eval "+k, operand, kpath)
		default:
			n.operand = c.value(operand, kpath)
		}
	}
	if found < 0 {
		c.errorf(s.pos, fpath, "$eval needs one operator next to it: %s", strings.Join(ops, ", "))
		return undefinedNode{}
	}
	return n
}
