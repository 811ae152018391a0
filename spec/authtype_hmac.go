package spec

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MethodGetSignatureConfig is the hmac-signature type's configuration
// method: the key, the algorithm, the string to sign and where the
// signature, timestamp, nonce and key id go.
const MethodGetSignatureConfig = "getSignatureConfig"

// HMACSignatureConfigKeys are the keys getSignatureConfig's result may have.
var HMACSignatureConfigKeys = []string{
	"algorithm", "encoding", "key", "keyEncoding", "keyId", "nonce", "signature", "stringToSign", "timestamp",
}

// The values getSignatureConfig's enumerated keys may take.
var (
	HMACAlgorithms       = []string{"HMAC-SHA1", "HMAC-SHA256", "HMAC-SHA512"}
	HMACKeyEncodings     = []string{"raw", "base64", "hex"}
	HMACOutputEncodings  = []string{"hex", "base64"}
	HMACTimestampFormats = []string{"unixSeconds", "unixMillis", "rfc3339", "rfc3339Millis"}
	HMACNonceKinds       = []string{"random", "counter"}
	// HMACPlacements are where a value goes: a header, a query parameter
	// or a field of a form or JSON object body, named by the key's value.
	HMACPlacements = []string{"header", "query", "body"}
)

// HMACBlockKeys are the keys of each placed value of getSignatureConfig
// (besides one of HMACPlacements).
var HMACBlockKeys = map[string][]string{
	"signature": {"prefix"},
	"timestamp": {"format", "prefix"},
	"nonce":     {"kind", "prefix"},
	"keyId":     {"value", "prefix"},
}

// Parts of a string to sign: {name} is the request's value of name.
var signParts = []string{
	"method", "host", "path", "query", "canonicalQuery", "pathWithQuery", "body", "timestamp", "nonce", "keyId",
}

// Digests a string to sign may take of a part of itself: {sha256(...)} is
// the raw digest, {sha256Hex(...)} and {sha256Base64(...)} encoded.
var signDigests = []string{"sha1", "sha256", "sha512"}

// SignNode is one piece of a parsed string-to-sign template: literal text,
// a part of the request, or a digest of a nested template.
type SignNode struct {
	// Text is literal text (Part and Digest empty).
	Text string
	// Part is the request part named {part}.
	Part string
	// Digest (sha1, sha256, sha512) of Args, encoded as Encoding ("" raw
	// bytes, hex, base64).
	Digest, Encoding string
	Args             []SignNode
}

// SignTemplateError is a string-to-sign template's problem at byte Offset.
type SignTemplateError struct {
	Offset  int
	Message string
}

func (e *SignTemplateError) Error() string { return e.Message }

// ParseSignTemplate parses a string-to-sign template: literal text with
// {part} for a request part (method, path, query, ...), {sha256Hex(...)}
// and the like for a digest of a nested template, {bodySha256Hex} as a
// short form of {sha256Hex({body})}, and {{ and }} for literal braces.
func ParseSignTemplate(s string) ([]SignNode, error) {
	nodes, rest, err := parseSignNodes(s, 0, 0)
	if err != nil {
		return nil, err
	}
	if rest != len(s) {
		return nil, &SignTemplateError{Offset: rest, Message: "unexpected \")}\" outside a digest"}
	}
	return nodes, nil
}

// maxSignDepth is how deep digests may nest; real schemes nest one.
const maxSignDepth = 4

// parseSignNodes parses s from i up to its end, or up to ")}" when nested
// (depth > 0); it returns the offset where it stopped.
func parseSignNodes(s string, i, depth int) ([]SignNode, int, error) {
	nested := depth > 0
	if depth > maxSignDepth {
		return nil, i, &SignTemplateError{Offset: i, Message: fmt.Sprintf("digests nested more than %d deep", maxSignDepth)}
	}
	var out []SignNode
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, SignNode{Text: lit.String()})
			lit.Reset()
		}
	}
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], "{{"), strings.HasPrefix(s[i:], "}}"):
			lit.WriteByte(s[i])
			i += 2
		case nested && strings.HasPrefix(s[i:], ")}"):
			flush()
			return out, i, nil
		case s[i] == '}':
			return nil, i, &SignTemplateError{Offset: i, Message: "a lone \"}\" (write }} for a literal brace)"}
		case s[i] == '{':
			flush()
			n, next, err := parseSignPart(s, i, depth)
			if err != nil {
				return nil, i, err
			}
			out = append(out, n)
			i = next
		default:
			lit.WriteByte(s[i])
			i++
		}
	}
	if nested {
		return nil, i, &SignTemplateError{Offset: i, Message: "a digest's \"(\" is not closed by \")}\""}
	}
	flush()
	return out, i, nil
}

// parseSignPart parses the part or digest that starts with "{" at s[i].
func parseSignPart(s string, i, depth int) (SignNode, int, error) {
	j := i + 1
	for j < len(s) && (isSignNameByte(s[j])) {
		j++
	}
	name := s[i+1 : j]
	if j < len(s) && s[j] == '(' {
		digest, enc, ok := splitDigest(name)
		if !ok {
			return SignNode{}, i, &SignTemplateError{Offset: i, Message: fmt.Sprintf("unknown digest {%s(...)} (digests: %s, each also as ...Hex and ...Base64)", name, strings.Join(signDigests, ", "))}
		}
		args, end, err := parseSignNodes(s, j+1, depth+1)
		if err != nil {
			return SignNode{}, i, err
		}
		return SignNode{Digest: digest, Encoding: enc, Args: args}, end + 2, nil
	}
	if j >= len(s) || s[j] != '}' {
		return SignNode{}, i, &SignTemplateError{Offset: i, Message: fmt.Sprintf("%q is not a part: write {name} with one of %s (or {{ for a literal brace)", s[i:min(j+1, len(s))], strings.Join(signParts, ", "))}
	}
	if slices.Contains(signParts, name) {
		return SignNode{Part: name}, j + 1, nil
	}
	// {bodySha256Hex}: a digest of the body.
	if rest, ok := strings.CutPrefix(name, "body"); ok && rest != "" {
		if digest, enc, ok := splitDigest(strings.ToLower(rest[:1]) + rest[1:]); ok {
			return SignNode{Digest: digest, Encoding: enc, Args: []SignNode{{Part: "body"}}}, j + 1, nil
		}
	}
	return SignNode{}, i, &SignTemplateError{Offset: i, Message: fmt.Sprintf("unknown part {%s} (parts: %s; digests such as {sha256Hex({body})} or {bodySha256Hex})", name, strings.Join(signParts, ", "))}
}

func isSignNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// splitDigest splits sha256Hex into sha256 and hex.
func splitDigest(name string) (digest, encoding string, ok bool) {
	for _, d := range signDigests {
		switch name {
		case d:
			return d, "", true
		case d + "Hex":
			return d, "hex", true
		case d + "Base64":
			return d, "base64", true
		}
	}
	return "", "", false
}

// SignTemplateUses reports whether the parsed template refers to part.
func SignTemplateUses(nodes []SignNode, part string) bool {
	for _, n := range nodes {
		if n.Part == part || SignTemplateUses(n.Args, part) {
			return true
		}
	}
	return false
}

// hmac-signature (a connspec extension): each request is signed with an
// HMAC over a string built from its method, path, query, body, a timestamp
// and a nonce, as getSignatureConfig declares. The engine half is
// engine/kind_hmac.go.
func init() {
	RegisterAuthType(AuthType{
		Name:  "hmac-signature",
		Title: "HMAC request signing (connspec extension)",
		Methods: withMethods(commonMethods(), map[string]MethodRule{
			MethodGetCredentialsFromConnectionParameters: {Implementations: anyImpl, Inputs: []string{"connectorParameters", "connectionParameters", "connectionInput"}},
			MethodGetSignatureConfig: {
				Required:        true,
				Implementations: anyImpl,
				Inputs:          []string{"connectorParameters", "connectionInput", "connectionParameters"},
				ResultKeys:      HMACSignatureConfigKeys,
				WhyRequired:     "it declares the key, the algorithm and the string each request's signature is computed over",
				CheckMapping:    checkSignatureConfig,
			},
		}),
	})
}

// checkSignatureConfig checks the literal values of a getSignatureConfig
// mapping: enumerations, the placed values' keys, the string-to-sign
// template (each problem at its line:col). Formulas are checked when they
// are evaluated.
func checkSignatureConfig(file string, n *yaml.Node) Diagnostics {
	var diags Diagnostics
	enums := map[string][]string{"algorithm": HMACAlgorithms, "keyEncoding": HMACKeyEncodings, "encoding": HMACOutputEncodings}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case enums[k.Value] != nil:
			diags = append(diags, checkEnum(file, k.Value, v, enums[k.Value])...)
		case k.Value == "stringToSign":
			diags = append(diags, checkSignTemplateNode(file, v)...)
		case HMACBlockKeys[k.Value] != nil:
			diags = append(diags, checkPlacementNode(file, k.Value, v)...)
		}
	}
	return diags
}

// checkEnum checks that the literal v of key is one of allowed.
func checkEnum(file, key string, v *yaml.Node, allowed []string) Diagnostics {
	if v.Kind != yaml.ScalarNode || slices.Contains(allowed, v.Value) {
		return nil
	}
	return Diagnostics{Pos{File: file, Line: v.Line, Column: v.Column}.Errorf("", "getSignatureConfig: %s %q is not supported (supported: %s)", key, v.Value, strings.Join(allowed, ", "))}
}

// checkSignTemplateNode checks a literal stringToSign: a string or a list
// of strings (joined with newlines).
func checkSignTemplateNode(file string, v *yaml.Node) Diagnostics {
	items := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	var diags Diagnostics
	for _, it := range items {
		if it.Kind != yaml.ScalarNode {
			continue
		}
		if _, err := ParseSignTemplate(it.Value); err != nil {
			te := err.(*SignTemplateError)
			diags = append(diags, templatePos(file, it, te.Offset).Errorf("", "getSignatureConfig: stringToSign: %s", te.Message))
		}
	}
	return diags
}

// templatePos is the position of byte off of the scalar n's value: exact
// for a one-line plain or quoted scalar without escapes, else its line.
func templatePos(file string, n *yaml.Node, off int) Pos {
	p := Pos{File: file, Line: n.Line, Column: n.Column}
	before := n.Value[:off]
	switch n.Style {
	case 0, yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if strings.Contains(before, "\n") {
			return p
		}
		if n.Style != 0 {
			p.Column++
		}
		p.Column += len([]rune(before))
	case yaml.LiteralStyle:
		// The text starts on the line after the "|".
		p.Line += 1 + strings.Count(before, "\n")
		p.Column = 0
	}
	return p
}

// checkPlacementNode checks a literal signature, timestamp, nonce or keyId
// block: exactly one of header, query, body, and only its own keys.
func checkPlacementNode(file, key string, v *yaml.Node) Diagnostics {
	if v.Kind != yaml.MappingNode || isFormulaNode(v) {
		return nil
	}
	allowed := append(slices.Clone(HMACPlacements), HMACBlockKeys[key]...)
	var diags Diagnostics
	places := 0
	for i := 0; i+1 < len(v.Content); i += 2 {
		kk, vv := v.Content[i], v.Content[i+1]
		at := Pos{File: file, Line: kk.Line, Column: kk.Column}
		switch {
		case !slices.Contains(allowed, kk.Value):
			diags = append(diags, at.Errorf("", "getSignatureConfig: %s has no key %q (keys: %s)", key, kk.Value, strings.Join(allowed, ", ")))
		case slices.Contains(HMACPlacements, kk.Value):
			places++
		case kk.Value == "format":
			diags = append(diags, checkEnum(file, key+".format", vv, HMACTimestampFormats)...)
		case kk.Value == "kind":
			diags = append(diags, checkEnum(file, key+".kind", vv, HMACNonceKinds)...)
		}
	}
	if places > 1 {
		diags = append(diags, Pos{File: file, Line: v.Line, Column: v.Column}.Errorf("", "getSignatureConfig: %s goes to one place: header, query or body, not several", key))
	}
	return diags
}
