package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/connspec/connspec/internal/yamlvalue"
)

// Limits that keep hostile input from exhausting the process.
const (
	// MaxFileSize is the largest connector file that is read.
	MaxFileSize = 10 << 20
	// maxNodes bounds the nodes visited while expanding a document, which
	// stops alias bombs ("billion laughs") early.
	maxNodes = 200_000
	// maxDepth bounds nesting.
	maxDepth = 512
)

// document is one parsed YAML file, with the decoded value and the node
// behind every JSON pointer, so any later check can point at file:line:col.
type document struct {
	file  string
	src   []byte
	root  *yaml.Node // the top-level node (not the DocumentNode); nil when empty
	value any
	nodes map[string]*yaml.Node // JSON pointer -> value node
	keys  map[string]*yaml.Node // JSON pointer -> key node of the entry
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses src and converts it to plain values. Problems are
// returned as diagnostics; the document is nil when nothing usable was read.
func parseYAML(file string, src []byte) (*document, Diagnostics) {
	return parseYAMLWith(file, src, nil)
}

// parseYAMLWith is parseYAML with a rewrite of the top-level node that runs
// before the document is converted (so positions and pointers follow it).
func parseYAMLWith(file string, src []byte, rewrite func(file string, top *yaml.Node) Diagnostics) (*document, Diagnostics) {
	start := Pos{File: file}
	if len(src) > MaxFileSize {
		return nil, Diagnostics{start.Errorf("", "file is %d bytes, larger than the %d MiB limit", len(src), MaxFileSize>>20)}
	}
	if i := bytes.IndexByte(src, 0); i >= 0 || !utf8.Valid(src) {
		if i < 0 {
			i = firstInvalidUTF8(src)
		}
		p := offsetPos(file, src, i)
		return nil, Diagnostics{p.Errorf("", "file is not UTF-8 text (binary data at byte %d)", i)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Diagnostics{start.Errorf("", "file is empty: expected a connector spec (a YAML mapping)")}
		}
		return nil, Diagnostics{yamlSyntaxDiagnostic(file, src, err)}
	}
	var diags Diagnostics
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p := Pos{File: file, Line: extra.Line, Column: extra.Column}
		diags = append(diags, p.Errorf("", "file holds more than one YAML document; a connector spec is a single document"))
	} else if !errors.Is(err, io.EOF) {
		diags = append(diags, yamlSyntaxDiagnostic(file, src, err))
	}
	doc := &document{file: file, src: src, nodes: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	top := &root
	if top.Kind == yaml.DocumentNode {
		if len(top.Content) == 0 {
			return nil, append(diags, start.Errorf("", "file is empty: expected a connector spec (a YAML mapping)"))
		}
		top = top.Content[0]
	}
	doc.root = top
	if rewrite != nil {
		diags = append(diags, rewrite(file, top)...)
	}
	c := converter{doc: doc}
	doc.value = c.convert(top, "", 0)
	diags = append(diags, c.diags...)
	if c.stopped {
		return nil, diags
	}
	return doc, diags
}

// yamlSyntaxDiagnostic turns a yaml.v3 error into a positioned diagnostic.
func yamlSyntaxDiagnostic(file string, src []byte, err error) Diagnostic {
	msg := err.Error()
	line := 0
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		// yaml.v3 reports the line where the enclosing block starts; the
		// first line at which the text stops parsing is closer to the fault.
		if len(src) < 1<<20 {
			if at := firstFailingLine(src); at > line {
				msg += fmt.Sprintf(" (in the block that starts at line %d)", line)
				line = at
			}
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
		line = firstFailingLine(src)
	}
	if strings.Contains(msg, "end of stream") {
		msg += " (an unclosed quote or bracket?)"
	}
	col := 1
	lines := strings.Split(string(src), "\n")
	if line >= 1 && line <= len(lines) {
		text := lines[line-1]
		if i := strings.IndexByte(text, '\t'); i >= 0 && strings.Contains(msg, "cannot start any token") {
			col = utf8.RuneCountInString(text[:i]) + 1
			msg += " (a tab character; YAML indentation must use spaces)"
		} else {
			col = len(text) - len(strings.TrimLeft(text, " \t")) + 1
		}
	}
	return Pos{File: file, Line: line, Column: col}.Errorf("", "YAML syntax error: %s", msg)
}

// firstFailingLine finds the first line at which a prefix of src no longer
// parses, for yaml.v3 errors that carry no line. It uses a binary search
// over prefixes and ignores errors caused only by the cut.
func firstFailingLine(src []byte) int {
	lines := bytes.SplitAfter(src, []byte("\n"))
	fails := func(n int) bool {
		var node yaml.Node
		err := yaml.Unmarshal(bytes.Join(lines[:n], nil), &node)
		return err != nil && !strings.Contains(err.Error(), "end of stream")
	}
	lo, hi := 1, len(lines)
	if !fails(hi) {
		return 1
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func firstInvalidUTF8(src []byte) int {
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return 0
}

func offsetPos(file string, src []byte, off int) Pos {
	line := bytes.Count(src[:off], []byte("\n")) + 1
	col := off - bytes.LastIndexByte(src[:off], '\n')
	return Pos{File: file, Line: line, Column: col}
}

// converter walks a yaml.Node tree into plain values (map[string]any,
// []any, string, int64, float64, bool, nil), resolving aliases and merge
// keys, and records the node behind each JSON pointer.
type converter struct {
	doc     *document
	diags   Diagnostics
	visited int
	stopped bool
}

func (c *converter) pos(n *yaml.Node) Pos {
	return Pos{File: c.doc.file, Line: n.Line, Column: n.Column}
}

func (c *converter) convert(n *yaml.Node, ptr string, depth int) any {
	if c.stopped {
		return nil
	}
	c.visited++
	if c.visited > maxNodes {
		c.stopped = true
		c.diags = append(c.diags, c.pos(n).Errorf(ptr, "document expands to more than %d values (too many aliases?); refusing to expand it", maxNodes))
		return nil
	}
	if depth > maxDepth {
		c.stopped = true
		c.diags = append(c.diags, c.pos(n).Errorf(ptr, "document is nested more than %d levels deep", maxDepth))
		return nil
	}
	if _, seen := c.doc.nodes[ptr]; !seen {
		c.doc.nodes[ptr] = n
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil
		}
		return c.convert(n.Alias, ptr, depth+1)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return c.convert(n.Content[0], ptr, depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			out = append(out, c.convert(item, ptr+"/"+strconv.Itoa(i), depth+1))
		}
		return out
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		c.mapping(n, ptr, depth, out, map[string]*yaml.Node{})
		return out
	case yaml.ScalarNode:
		return yamlvalue.Scalar(n)
	}
	return nil
}

// mapping fills out with the entries of n; seen tracks key nodes to report
// duplicates. Merge keys (<<) add entries that are not already present.
func (c *converter) mapping(n *yaml.Node, ptr string, depth int, out map[string]any, seen map[string]*yaml.Node) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		key, ok := c.key(k, ptr)
		if !ok {
			continue
		}
		child := ptr + "/" + escapePointer(key)
		if prev, dup := seen[key]; dup {
			c.diags = append(c.diags, c.pos(k).Errorf(child, "duplicate key %q (first defined at line %d)", key, prev.Line))
			continue
		}
		seen[key] = k
		c.doc.keys[child] = k
		out[key] = c.convert(v, child, depth+1)
	}
	for _, m := range merges {
		for _, src := range mergeSources(m) {
			if src.Kind != yaml.MappingNode {
				c.diags = append(c.diags, c.pos(m).Errorf(ptr, "merge key << must refer to a mapping"))
				continue
			}
			tmp := map[string]any{}
			c.mapping(src, ptr, depth+1, tmp, map[string]*yaml.Node{})
			for k, v := range tmp {
				if _, ok := out[k]; !ok {
					out[k] = v
				}
			}
		}
	}
}

func mergeSources(n *yaml.Node) []*yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.SequenceNode {
		var out []*yaml.Node
		for _, item := range n.Content {
			if item.Kind == yaml.AliasNode && item.Alias != nil {
				item = item.Alias
			}
			out = append(out, item)
		}
		return out
	}
	return []*yaml.Node{n}
}

// key returns the string form of a mapping key. Keys must be scalars; a
// number or boolean key is accepted as its text, like JSON would need.
func (c *converter) key(k *yaml.Node, ptr string) (string, bool) {
	if k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		c.diags = append(c.diags, c.pos(k).Errorf(ptr, "mapping key must be a string, not a %s", kindName(k)))
		return "", false
	}
	switch k.ShortTag() {
	case "!!null":
		c.diags = append(c.diags, c.pos(k).Errorf(ptr, "mapping key must be a string, not null"))
		return "", false
	case "!!int", "!!float", "!!bool":
		c.diags = append(c.diags, c.pos(k).Warnf(ptr, "mapping key %s is not a string; it is read as %q (quote it to say so)", k.Value, k.Value))
	}
	return k.Value, true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}

func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// at returns the position of the value at ptr, or of its nearest ancestor.
func (d *document) at(ptr string) Pos {
	for {
		if n, ok := d.nodes[ptr]; ok {
			return Pos{File: d.file, Line: n.Line, Column: n.Column}
		}
		i := strings.LastIndexByte(ptr, '/')
		if i < 0 {
			return Pos{File: d.file, Line: 1, Column: 1}
		}
		ptr = ptr[:i]
	}
}

// keyAt returns the position of the key of the entry at ptr, falling back
// to the value.
func (d *document) keyAt(ptr string) Pos {
	if n, ok := d.keys[ptr]; ok {
		return Pos{File: d.file, Line: n.Line, Column: n.Column}
	}
	return d.at(ptr)
}

// node returns the YAML node at ptr, or nil.
func (d *document) node(ptr string) *yaml.Node { return d.nodes[ptr] }

// orderedKeys returns the keys of the mapping at ptr in source order.
func (d *document) orderedKeys(ptr string) []string {
	m, ok := lookupPointer(d.value, ptr).(map[string]any)
	if !ok {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.SliceStable(keys, func(i, j int) bool {
		pi, pj := d.keyAt(ptr+"/"+escapePointer(keys[i])), d.keyAt(ptr+"/"+escapePointer(keys[j]))
		if pi.Line != pj.Line {
			return pi.Line < pj.Line
		}
		return pi.Column < pj.Column
	})
	return keys
}

// lookupPointer resolves a JSON pointer in a plain value.
func lookupPointer(v any, ptr string) any {
	if ptr == "" {
		return v
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch cur := v.(type) {
		case map[string]any:
			v = cur[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(cur) {
				return nil
			}
			v = cur[i]
		default:
			return nil
		}
	}
	return v
}

// typeName names the JSON type of a plain value for messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "mapping"
	case []any:
		return "list"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64, float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}
