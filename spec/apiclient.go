package spec

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/connspec/connspec/internal/suggest"
)

// apiClientKeys are the keys of makeApiClient's result that the engine
// reads, with the YAML kind each must have when written literally (a
// formula may stand for any). Any other key is refused: a key the engine
// would drop (an API key in defaultHeaders, say) leaves requests
// unauthenticated without a word.
var apiClientKeys = map[string]yaml.Kind{
	"baseUri":          yaml.ScalarNode,
	"headers":          yaml.MappingNode,
	"query":            yaml.MappingNode,
	"auth":             yaml.MappingNode,
	"responseHandlers": yaml.SequenceNode,
}

// apiClientAliases are the other names integration.app's docs give
// makeApiClient result keys, by the key they stand for: baseUrl in every
// client-credentials example and in the JavaScript makeApiClient example,
// defaultQueryParameters in "API Key in Query Parameter"
// (console.integration.app/docs/connector-builder/authentication/types/client-credentials).
var apiClientAliases = map[string]string{
	"baseUrl":                "baseUri",
	"defaultQueryParameters": "query",
}

// apiClientAuthKeys are the keys of makeApiClient's auth (HTTP Basic).
var apiClientAuthKeys = map[string]yaml.Kind{"username": 0, "password": 0}

// APIClientKey returns the key the engine reads for a key of makeApiClient's
// result: the key itself, or the one an alias stands for. ok is false for a
// key the engine does not use.
func APIClientKey(key string) (canonical string, ok bool) {
	if c, ok := apiClientAliases[key]; ok {
		return c, true
	}
	_, ok = apiClientKeys[key]
	return key, ok
}

// APIClientKeyNames lists every key makeApiClient's result may have,
// aliases included, sorted, for messages.
func APIClientKeyNames() []string {
	names := make([]string, 0, len(apiClientKeys)+len(apiClientAliases))
	for k := range apiClientKeys {
		names = append(names, k)
	}
	for k := range apiClientAliases {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// IsAPIClientAuthKey reports whether key is one of makeApiClient's auth
// keys (username, password).
func IsAPIClientAuthKey(key string) bool {
	_, ok := apiClientAuthKeys[key]
	return ok
}

// IsResponseHandlerKey reports whether key is one a response handler may
// have (match, isSuccess, error).
func IsResponseHandlerKey(key string) bool {
	_, ok := responseHandlerKeys[key]
	return ok
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
// mapping (flat, or wrapped in args:) so that `headers: [...]` or a key the
// engine does not use is reported at load rather than on the first request.
func checkAPIClientShape(file string, n *yaml.Node) Diagnostics {
	if n == nil || n.Kind != yaml.MappingNode || isFormulaNode(n) {
		return nil
	}
	var diags Diagnostics
	if args := mappingValue(n, "args"); args != nil && args.Kind == yaml.MappingNode && !isFormulaNode(args) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Value != "args" {
				diags = append(diags, Pos{File: file, Line: k.Line, Column: k.Column}.Errorf("",
					"makeApiClient result has %q beside args; with args, every key goes inside it", k.Value))
			}
		}
		n = args
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		at := Pos{File: file, Line: k.Line, Column: k.Column}
		key, known := APIClientKey(k.Value)
		if !known {
			diags = append(diags, at.Errorf("", "makeApiClient result has no key %q: connspec would not use it (keys: %s)%s",
				k.Value, strings.Join(APIClientKeyNames(), ", "), suggest.Hint(k.Value, APIClientKeyNames())))
			continue
		}
		if first, dup := seen[key]; dup {
			diags = append(diags, at.Errorf("", "makeApiClient result has both %s and %s, which name the same thing; keep one", first.Value, k.Value))
			continue
		}
		seen[key] = k
		diags = append(diags, checkKind(file, "makeApiClient", k.Value, v, apiClientKeys[key])...)
	}
	if auth := seen["auth"]; auth != nil {
		if a := mappingValue(n, auth.Value); a.Kind == yaml.MappingNode && !isFormulaNode(a) {
			diags = append(diags, checkKeys(file, a, "makeApiClient auth", apiClientAuthKeys, true)...)
		}
	}
	if rh := mappingValue(n, "responseHandlers"); rh != nil && rh.Kind == yaml.SequenceNode {
		for _, h := range rh.Content {
			if h.Kind == yaml.MappingNode && !isFormulaNode(h) {
				diags = append(diags, checkKeys(file, h, "a response handler", responseHandlerKeys, true)...)
			} else if h.Kind != yaml.MappingNode && h.Kind != yaml.AliasNode {
				diags = append(diags, Pos{File: file, Line: h.Line, Column: h.Column}.Errorf("", "a response handler must be a mapping (match, isSuccess, error)"))
			}
		}
	}
	return diags
}

// checkKeys checks the keys of the literal mapping n against kinds: an
// unknown key is an error when strict (the engine would drop it), else a
// warning.
func checkKeys(file string, n *yaml.Node, what string, kinds map[string]yaml.Kind, strict bool) Diagnostics {
	var diags Diagnostics
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	slices.Sort(names)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		want, known := kinds[k.Value]
		if !known {
			at := Pos{File: file, Line: k.Line, Column: k.Column}
			if strict {
				diags = append(diags, at.Errorf("", "%s has no key %q: connspec would not use it (keys: %s)%s", what, k.Value, strings.Join(names, ", "), suggest.Hint(k.Value, names)))
			} else {
				diags = append(diags, at.Warnf("", "%s result has no key %q; it is ignored%s", what, k.Value, suggest.Hint(k.Value, names)))
			}
			continue
		}
		diags = append(diags, checkKind(file, what, k.Value, v, want)...)
	}
	return diags
}

// checkKind checks that the literal value v of key has the kind want (0:
// any); a formula or an alias may stand for any kind.
func checkKind(file, what, key string, v *yaml.Node, want yaml.Kind) Diagnostics {
	at := Pos{File: file, Line: v.Line, Column: v.Column}
	switch {
	case want == 0 || v.Kind == yaml.AliasNode || isFormulaNode(v):
	case want == yaml.ScalarNode && v.Kind != yaml.ScalarNode:
		return Diagnostics{at.Errorf("", "%s: %s must be a string, not a %s", what, key, kindName(v))}
	case want != yaml.ScalarNode && v.Kind != want:
		return Diagnostics{at.Errorf("", "%s: %s must be a %s, not a %s", what, key, kindWord(want), kindWordOf(v))}
	}
	return nil
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
