package spec

import (
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

// flatAuthKeySet returns the keys that belong to the auth block in the flat
// form: the auth-only settings and the auth methods (aliases are looked up
// through MethodName).
func flatAuthKeySet() map[string]bool {
	set := map[string]bool{}
	for _, k := range flatAuthKeys {
		set[k] = true
	}
	for _, m := range AllMethodNames() {
		set[m] = true
	}
	return set
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
	authKeys := flatAuthKeySet()
	var authKey *yaml.Node
	var moved []int // indexes of the key nodes to move
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		switch {
		case k.Value == "auth":
			authKey = k
		case authKeys[k.Value] || authKeys[MethodName(k.Value)]:
			moved = append(moved, i)
		}
	}
	if len(moved) == 0 {
		return false, nil
	}
	if authKey != nil {
		// A handful of these say it all, even in a hostile file.
		if len(moved) > 10 {
			moved = moved[:10]
		}
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
	isMoved := make(map[int]bool, len(moved))
	for _, i := range moved {
		isMoved[i] = true
	}
	kept := make([]*yaml.Node, 0, len(root.Content))
	for i := 0; i+1 < len(root.Content); i += 2 {
		if isMoved[i] {
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
