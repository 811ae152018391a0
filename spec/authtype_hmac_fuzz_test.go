package spec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseSignTemplate: any template text parses or is refused with an
// offset inside it, never a panic or runaway nesting; what parses renders
// back to a template that parses to the same nodes.
func FuzzParseSignTemplate(f *testing.F) {
	for _, seed := range []string{
		"{timestamp}{method}{pathWithQuery}{body}",
		"{path}{sha256({nonce}{body})}",
		"{method}\n{canonicalQuery}\n{bodySha256Hex}",
		"{{literal}} {keyId}",
		"{sha512Base64({sha256Hex({sha1({body})})})}",
		"{sha256(", "{unknown}", ")}", "{", "}}", "{sha256Hex({sha256({sha256({sha256({sha256({body})})})})})}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		nodes, err := ParseSignTemplate(s)
		if err != nil {
			var te *SignTemplateError
			if !errors.As(err, &te) || te.Offset < 0 || te.Offset > len(s) {
				t.Fatalf("%q: error %v has no offset inside the template", s, err)
			}
			return
		}
		if d := signDepth(nodes); d > maxSignDepth {
			t.Fatalf("%q: digests nest %d deep, more than %d", s, d, maxSignDepth)
		}
		again, err := ParseSignTemplate(renderSignNodes(nodes))
		if err != nil {
			t.Fatalf("%q renders as %q, which does not parse: %v", s, renderSignNodes(nodes), err)
		}
		if !reflect.DeepEqual(mergeSignText(nodes), mergeSignText(again)) {
			t.Fatalf("%q: nodes %#v render and parse back as %#v", s, nodes, again)
		}
	})
}

func signDepth(nodes []SignNode) int {
	d := 0
	for _, n := range nodes {
		if n.Digest != "" {
			d = max(d, 1+signDepth(n.Args))
		}
	}
	return d
}

// renderSignNodes writes nodes back as template text, digests in their
// long form.
func renderSignNodes(nodes []SignNode) string {
	var b strings.Builder
	for _, n := range nodes {
		switch {
		case n.Digest != "":
			enc := ""
			if n.Encoding != "" {
				enc = strings.ToUpper(n.Encoding[:1]) + n.Encoding[1:]
			}
			b.WriteString("{" + n.Digest + enc + "(" + renderSignNodes(n.Args) + ")}")
		case n.Part != "":
			b.WriteString("{" + n.Part + "}")
		default:
			b.WriteString(strings.NewReplacer("{", "{{", "}", "}}").Replace(n.Text))
		}
	}
	return b.String()
}

// mergeSignText joins adjacent literal nodes, which a parse may split.
func mergeSignText(nodes []SignNode) []SignNode {
	var out []SignNode
	for _, n := range nodes {
		if n.Digest != "" {
			n.Args = mergeSignText(n.Args)
		}
		if k := len(out); k > 0 && n.Part == "" && n.Digest == "" && out[k-1].Part == "" && out[k-1].Digest == "" {
			out[k-1].Text += n.Text
			continue
		}
		out = append(out, n)
	}
	return out
}
