package spec

import (
	"slices"

	"go.yaml.in/yaml/v3"
)

// Membrane's flat connector definition puts the auth type and the auth
// functions at the top level of the connector file instead of under auth:
// (https://docs.getmembrane.com/docs/oauth2, "Connector Definition":
// `type: oauth2`, then getOAuthConfig, makeApiClient and test beside it).
// The loader moves those keys under a synthesised auth: block before
// anything reads the document, so a flat connector loads, validates and
// runs exactly like the nested one, and every diagnostic keeps the
// file:line:col of the key as written.

// flatAuthKeys are the keys that belong to the auth block in the flat form
// besides the method names. Keys the connector's top level has too (ui,
// inputSchema, parametersSchema, description) stay where they are: the auth
// block inherits them.
var flatAuthKeys = []string{
	"type", "credentialsSchema", "customCredentialsSchema", "enabled",
	"proxyKey", "allowedHosts", "apiKeyField", "options",
}

// isFlatAuthKey reports whether a top-level key is an auth key of the flat
// form: an auth-only setting, or an auth method (or one of its aliases).
func isFlatAuthKey(k string) bool {
	return slices.Contains(flatAuthKeys, k) || slices.Contains(AllMethodNames(), MethodName(k))
}

// nestFlatAuth rewrites a flat connector definition in place: the auth keys
// at the top level of root move, in source order, into a new auth: mapping
// placed where the first of them was. It reports whether root was flat. A
// document with both an auth: block and top-level auth keys is ambiguous and
// is refused with one diagnostic per top-level auth key.
func nestFlatAuth(file string, root *yaml.Node) (flat bool, diags Diagnostics) {
	if root == nil || root.Kind != yaml.MappingNode {
		return false, nil
	}
	var authKey *yaml.Node
	var moved []int // indexes of the key nodes to move
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		switch {
		case k.Value == "auth":
			authKey = k
		case isFlatAuthKey(k.Value):
			moved = append(moved, i)
		}
	}
	if len(moved) == 0 {
		return false, nil
	}
	if authKey != nil {
		for _, i := range moved {
			k := root.Content[i]
			p := Pos{File: file, Line: k.Line, Column: k.Column}
			diags = append(diags, p.Errorf("/"+escapePointer(k.Value),
				"top-level %s next to an auth: block (line %d): write the auth either under auth: (integration.app's spec.yml) or at the top level (Membrane's flat connector definition), not both",
				k.Value, authKey.Line))
		}
		return false, diags
	}
	first := root.Content[moved[0]]
	block := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: first.Line, Column: first.Column}
	key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "auth", Line: first.Line, Column: first.Column}
	var kept []*yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if slices.Contains(moved, i) {
			block.Content = append(block.Content, root.Content[i], root.Content[i+1])
			if i == moved[0] {
				kept = append(kept, key, block)
			}
			continue
		}
		kept = append(kept, root.Content[i], root.Content[i+1])
	}
	root.Content = kept
	return true, nil
}
