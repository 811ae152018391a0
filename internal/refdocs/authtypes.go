package refdocs

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/connspec/connspec/spec"
)

// registeredAuthTypes returns each registered auth type once (aliases point
// at the same type), in name order.
func registeredAuthTypes() []*spec.AuthType {
	var out []*spec.AuthType
	seen := map[string]bool{}
	for _, name := range spec.AuthTypeNames() {
		t, ok := spec.LookupAuthType(name)
		if !ok || seen[t.Name] {
			continue
		}
		seen[t.Name] = true
		out = append(out, t)
	}
	return out
}

func writeAuthTypes(b *bytes.Buffer) error {
	b.WriteString("Every auth type connspec knows (the registry in `spec/authtypes.go`) and the methods an auth block\n" +
		"of that type may define. The same table drives `connspec validate`, `connspec inspect` and execution.\n\n" +
		"- **Required**: the block must define the method (an auth option may inherit it from the base block\n" +
		"  when it is marked inherited).\n" +
		"- **Implementations**: the implementation types the method may be written in.\n" +
		"- **Inputs**: the variables the method receives; a formula or expression reading another gets a warning.\n" +
		"- **Inherited**: an auth option without the method uses the base block's.\n\n" +
		"See [compatibility.md](../compatibility.md) for how each type behaves, and [formulas.md](formulas.md)\n" +
		"and [javascript.md](javascript.md) for the implementation languages.\n\n")
	types := registeredAuthTypes()
	if len(types) == 0 {
		return fmt.Errorf("no auth type is registered")
	}
	b.WriteString("| Type | Aliases | Title |\n|---|---|---|\n")
	for _, t := range types {
		fmt.Fprintf(b, "| [`%s`](#%s) | %s | %s |\n", t.Name, t.Name, codeList(t.Aliases, "—"), cell(t.Title))
	}
	for _, t := range types {
		writeAuthType(b, t)
	}
	return nil
}

func writeAuthType(b *bytes.Buffer, t *spec.AuthType) {
	fmt.Fprintf(b, "\n## %s\n\n%s.", t.Name, t.Title)
	if len(t.Aliases) > 0 {
		fmt.Fprintf(b, " Also written as %s.", codeList(t.Aliases, ""))
	}
	if t.RequiresProxyKey {
		b.WriteString(" The auth block must name `proxyKey`, the connector whose connection it rides on.")
	}
	b.WriteString("\n\n| Method | Required | Implementations | Inputs | Inherited |\n|---|---|---|---|---|\n")
	var why []string
	for _, m := range t.MethodNames() {
		r := t.Methods[m]
		name := "`" + m + "`"
		if aliases := spec.MethodAliases(m); len(aliases) > 0 {
			name += " (alias " + codeList(aliases, "") + ")"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", name, yesNo(r.Required), codeList(r.Implementations, "—"), codeList(r.Inputs, "—"), yesNo(r.Inherited))
		if r.WhyRequired != "" {
			why = append(why, fmt.Sprintf("`%s` is required because %s.", m, r.WhyRequired))
		}
	}
	for _, w := range why {
		fmt.Fprintf(b, "\n%s\n", cell(w))
	}
}

// codeList formats names as `a`, `b`; empty gives none.
func codeList(names []string, none string) string {
	if len(names) == 0 {
		return none
	}
	return "`" + strings.Join(names, "`, `") + "`"
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
