package formulas

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/connspec/connspec/internal/yamlvalue"
)

const (
	// maxDepth bounds nesting so that compiling and evaluating never recurse
	// deeply enough to exhaust the stack.
	maxDepth = 256
	// maxNodes bounds the size of a mapping after alias expansion
	// ("billion laughs" documents).
	maxNodes = 200_000
)

type srcKind uint8

const (
	srcScalar srcKind = iota
	srcSeq
	srcMap
)

// srcNode is the common form of YAML nodes and decoded Go values that the
// compiler reads: positions kept, aliases expanded, map keys ordered.
type srcNode struct {
	kind   srcKind
	value  any // scalars: string, int64, float64, bool or nil
	keys   []string
	keyPos []pos
	items  []*srcNode // map values (parallel to keys) or sequence items
	// textOffset is the column offset of a scalar's text from its position:
	// 0 plain, 1 quoted, -1 when unknown (block scalars, decoded values).
	textOffset int
	pos
}

type pos struct{ line, col int }

// converter turns input into srcNodes, collecting problems.
type converter struct {
	problems []Problem
	count    int
	tooDeep  bool
	tooLarge bool
}

var nullSrc = &srcNode{kind: srcScalar}

func (cv *converter) errorf(p pos, path, format string, args ...any) {
	cv.problems = append(cv.problems, Problem{Severity: SeverityError, Line: p.line, Column: p.col, Path: path, Message: fmt.Sprintf(format, args...)})
}

// guard reports whether descending into one more node is allowed.
func (cv *converter) guard(depth int, p pos, path string) bool {
	if depth > maxDepth {
		if !cv.tooDeep {
			cv.tooDeep = true
			cv.errorf(p, path, "mapping is nested more than %d levels deep", maxDepth)
		}
		return false
	}
	cv.count++
	if cv.count > maxNodes {
		if !cv.tooLarge {
			cv.tooLarge = true
			cv.errorf(p, path, "mapping has more than %d values (after expanding aliases)", maxNodes)
		}
		return false
	}
	return true
}

func (cv *converter) fromYAML(n *yaml.Node, depth int, path string) *srcNode {
	if n == nil {
		return nullSrc
	}
	p := pos{n.Line, n.Column}
	if !cv.guard(depth, p, path) {
		return nullSrc
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nullSrc
		}
		return cv.fromYAML(n.Content[0], depth+1, path)
	case yaml.AliasNode:
		if n.Alias == nil {
			cv.errorf(p, path, "alias *%s has no anchor", n.Value)
			return nullSrc
		}
		return cv.fromYAML(n.Alias, depth+1, path)
	case yaml.ScalarNode:
		offset := -1
		switch n.Style {
		case 0, yaml.TaggedStyle:
			offset = 0
		case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
			offset = 1
		}
		return &srcNode{kind: srcScalar, value: yamlvalue.Scalar(n), pos: p, textOffset: offset}
	case yaml.SequenceNode:
		s := &srcNode{kind: srcSeq, pos: p, items: make([]*srcNode, 0, len(n.Content))}
		for i, c := range n.Content {
			s.items = append(s.items, cv.fromYAML(c, depth+1, path+"/"+strconv.Itoa(i)))
		}
		return s
	case yaml.MappingNode:
		return cv.yamlMapping(n, depth, path)
	}
	cv.errorf(p, path, "unsupported YAML node kind %d", n.Kind)
	return nullSrc
}

func (cv *converter) yamlMapping(n *yaml.Node, depth int, path string) *srcNode {
	s := &srcNode{kind: srcMap, pos: pos{n.Line, n.Column}}
	seen := map[string]bool{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kp := pos{k.Line, k.Column}
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			cv.errorf(kp, path, "object keys must be scalars")
			continue
		}
		key := k.Value
		if seen[key] {
			cv.errorf(kp, path+"/"+escapePointer(key), "duplicate key %q", key)
			continue
		}
		seen[key] = true
		s.keys = append(s.keys, key)
		s.keyPos = append(s.keyPos, kp)
		s.items = append(s.items, cv.fromYAML(v, depth+1, path+"/"+escapePointer(key)))
	}
	// Merge keys ("<<: *defaults") add the keys the mapping does not set itself.
	for _, m := range merges {
		for m.Kind == yaml.AliasNode && m.Alias != nil {
			m = m.Alias
		}
		var sources []*yaml.Node
		switch m.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{m}
		case yaml.SequenceNode:
			sources = m.Content
		default:
			cv.errorf(pos{m.Line, m.Column}, path, "merge key value must be a mapping or a list of mappings")
			continue
		}
		for _, src := range sources {
			merged := cv.fromYAML(src, depth+1, path)
			if merged.kind != srcMap {
				if merged != nullSrc {
					cv.errorf(merged.pos, path, "merge key value must be a mapping or a list of mappings")
				}
				continue
			}
			for i, key := range merged.keys {
				if seen[key] {
					continue
				}
				seen[key] = true
				s.keys = append(s.keys, key)
				s.keyPos = append(s.keyPos, merged.keyPos[i])
				s.items = append(s.items, merged.items[i])
			}
		}
	}
	return s
}

func (cv *converter) fromGo(v any, depth int, path string) *srcNode {
	if !cv.guard(depth, pos{}, path) {
		return nullSrc
	}
	switch t := v.(type) {
	case nil:
		return nullSrc
	case string, bool, int64, float64:
		return &srcNode{kind: srcScalar, value: t}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return &srcNode{kind: srcScalar, value: i}
		}
		if f, err := t.Float64(); err == nil {
			return &srcNode{kind: srcScalar, value: f}
		}
		return &srcNode{kind: srcScalar, value: t.String()}
	case []any:
		s := &srcNode{kind: srcSeq, items: make([]*srcNode, 0, len(t))}
		for i, item := range t {
			s.items = append(s.items, cv.fromGo(item, depth+1, path+"/"+strconv.Itoa(i)))
		}
		return s
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		return cv.goMap(keys, func(k string) any { return t[k] }, depth, path)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &srcNode{kind: srcScalar, value: rv.Int()}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u <= math.MaxInt64 {
			return &srcNode{kind: srcScalar, value: int64(u)}
		}
		return &srcNode{kind: srcScalar, value: float64(u)}
	case reflect.Float32, reflect.Float64:
		return &srcNode{kind: srcScalar, value: rv.Float()}
	case reflect.String:
		return &srcNode{kind: srcScalar, value: rv.String()}
	case reflect.Bool:
		return &srcNode{kind: srcScalar, value: rv.Bool()}
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nullSrc
		}
		return cv.fromGo(rv.Elem().Interface(), depth+1, path)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nullSrc
		}
		s := &srcNode{kind: srcSeq, items: make([]*srcNode, 0, rv.Len())}
		for i := range rv.Len() {
			s.items = append(s.items, cv.fromGo(rv.Index(i).Interface(), depth+1, path+"/"+strconv.Itoa(i)))
		}
		return s
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		if rv.IsNil() {
			return nullSrc
		}
		keys := make([]string, 0, rv.Len())
		values := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k := it.Key().String()
			keys = append(keys, k)
			values[k] = it.Value().Interface()
		}
		return cv.goMap(keys, func(k string) any { return values[k] }, depth, path)
	}
	cv.errorf(pos{}, path, "unsupported value of type %T", v)
	return nullSrc
}

// goMap orders the keys of a Go map: sorted, with the first known formula
// name moved to the front so that the object reads as that formula.
func (cv *converter) goMap(keys []string, get func(string) any, depth int, path string) *srcNode {
	slices.Sort(keys)
	for i, k := range keys {
		if _, ok := formulaNames[k]; ok {
			copy(keys[1:i+1], keys[:i])
			keys[0] = k
			break
		}
	}
	s := &srcNode{kind: srcMap, keys: keys, keyPos: make([]pos, len(keys)), items: make([]*srcNode, 0, len(keys))}
	for _, k := range keys {
		s.items = append(s.items, cv.fromGo(get(k), depth+1, path+"/"+escapePointer(k)))
	}
	return s
}

// srcSize counts the values in s.
func srcSize(s *srcNode) int {
	n := 1
	for _, it := range s.items {
		n += srcSize(it)
	}
	return n
}

// plainValue converts a srcNode to a Go value without evaluating formulas.
func plainValue(s *srcNode) any {
	switch s.kind {
	case srcSeq:
		out := make([]any, len(s.items))
		for i, it := range s.items {
			out[i] = plainValue(it)
		}
		return out
	case srcMap:
		out := make(map[string]any, len(s.keys))
		for i, k := range s.keys {
			out[k] = plainValue(s.items[i])
		}
		return out
	}
	return s.value
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// escapePointer escapes one JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return pointerEscaper.Replace(s)
}
