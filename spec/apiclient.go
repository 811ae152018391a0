package spec

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/connspec/connspec/internal/suggest"
)

// apiClientKeys are the keys of makeApiClient's result, with the YAML kind
// each must have when written literally (a formula may stand for any).
var apiClientKeys = map[string]yaml.Kind{
	"baseUri":          yaml.ScalarNode,
	"headers":          yaml.MappingNode,
	"query":            yaml.MappingNode,
	"auth":             yaml.MappingNode,
	"responseHandlers": yaml.SequenceNode,
}

var responseHandlerKeys = map[string]yaml.Kind{
	"match":     0, // any value: a condition
	"isSuccess": 0,
	"error":     yaml.MappingNode,
}

// isFormulaNode reports whether n is an object whose first key is a $name,
// which only the formula compiler can judge.
func isFormulaNode(n *yaml.Node) bool {
	return n.Kind == yaml.MappingNode && len(n.Content) > 0 && strings.HasPrefix(n.Content[0].Value, "$")
}

// checkAPIClientShape checks the literal structure of a makeApiClient
// mapping (flat, or wrapped in args:) so that `headers: [...]` is reported
// at load rather than failing on the first request.
func checkAPIClientShape(file string, n *yaml.Node) Diagnostics {
	if n == nil || n.Kind != yaml.MappingNode || isFormulaNode(n) {
		return nil
	}
	if args := mappingValue(n, "args"); args != nil && args.Kind == yaml.MappingNode && !isFormulaNode(args) {
		n = args
	}
	diags := checkKeys(file, n, "makeApiClient", apiClientKeys)
	if rh := mappingValue(n, "responseHandlers"); rh != nil && rh.Kind == yaml.SequenceNode {
		for _, h := range rh.Content {
			if h.Kind == yaml.MappingNode && !isFormulaNode(h) {
				diags = append(diags, checkKeys(file, h, "a response handler", responseHandlerKeys)...)
			} else if h.Kind != yaml.MappingNode && h.Kind != yaml.AliasNode {
				diags = append(diags, Pos{File: file, Line: h.Line, Column: h.Column}.Errorf("", "a response handler must be a mapping (match, isSuccess, error)"))
			}
		}
	}
	return diags
}

func checkKeys(file string, n *yaml.Node, what string, kinds map[string]yaml.Kind) Diagnostics {
	var diags Diagnostics
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		want, known := kinds[k.Value]
		at := Pos{File: file, Line: v.Line, Column: v.Column}
		switch {
		case !known:
			hint := suggest.Hint(k.Value, names)
			if hint != "" || what == "getOAuthConfig" {
				// makeApiClient results may carry extra keys for JavaScript
				// clients; getOAuthConfig's are all read by the engine.
				diags = append(diags, Pos{File: file, Line: k.Line, Column: k.Column}.Warnf("", "%s result has no key %q; it is ignored%s", what, k.Value, hint))
			}
		case want == 0 || v.Kind == yaml.AliasNode || isFormulaNode(v):
		case want == yaml.ScalarNode && v.Kind != yaml.ScalarNode:
			diags = append(diags, at.Errorf("", "%s: %s must be a string, not a %s", what, k.Value, kindName(v)))
		case want != yaml.ScalarNode && v.Kind != want:
			diags = append(diags, at.Errorf("", "%s: %s must be a %s, not a %s", what, k.Value, kindWord(want), kindWordOf(v)))
		}
	}
	return diags
}

func kindWord(k yaml.Kind) string {
	if k == yaml.SequenceNode {
		return "list"
	}
	return "mapping"
}

func kindWordOf(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return "single value"
	}
	return kindName(n)
}

// mappingValue returns the value of key in a mapping node, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
