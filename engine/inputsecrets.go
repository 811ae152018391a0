package engine

import (
	"slices"

	"github.com/connspec/connspec/internal/redact"
	"github.com/connspec/connspec/spec"
)

// Connection input is redacted by its schema, so that errors and logs stay
// useful: a field the auth block's UI or input schema marks secret
// (redact.SecretField: format password, writeOnly, x-connspec-secret, or a
// secret-looking name) is redacted, and so is any field no schema declares
// (nothing says what it is); the other fields (a subdomain, a region) are
// shown.

// inputSecrets splits the string leaves of connection input into the
// secret ones and the shown ones.
func (a *Auth) inputSecrets(input map[string]any) (secret, shown []string) {
	var props []map[string]any
	for _, s := range a.input {
		if s != nil {
			props = append(props, s.Value)
		}
	}
	splitInput(input, props, 0, &secret, &shown)
	return secret, shown
}

// splitInput sorts the leaves of v, described by the schemas, into secret
// and shown.
func splitInput(v any, schemas []map[string]any, depth int, secret, shown *[]string) {
	if depth > 64 {
		*secret = append(*secret, stringLeaves(v)...) // input is validated for depth; stay bounded regardless
		return
	}
	switch t := v.(type) {
	case string:
		if len(schemas) == 0 {
			*secret = append(*secret, t)
		} else {
			*shown = append(*shown, t)
		}
	case map[string]any:
		for k, x := range t {
			var props []map[string]any
			hidden := false
			for _, s := range schemas {
				all, _ := s["properties"].(map[string]any)
				if p, ok := all[k].(map[string]any); ok {
					props = append(props, p)
					hidden = hidden || redact.SecretField(k, p)
				}
			}
			if hidden || len(props) == 0 {
				*secret = append(*secret, stringLeaves(x)...)
				continue
			}
			splitInput(x, props, depth+1, secret, shown)
		}
	case []any:
		var items []map[string]any
		for _, s := range schemas {
			if it, ok := s["items"].(map[string]any); ok {
				items = append(items, it)
			}
		}
		for _, x := range t {
			splitInput(x, items, depth+1, secret, shown)
		}
	}
}

// redactor returns the redactor of a connection of this auth block: every
// string inside values (credentials, connector parameters, a verifier, ...)
// and in the secret fields of input, except the values of input fields that
// are shown (credentials made from input carry them too).
func (a *Auth) redactor(input map[string]any, values ...any) *redactor {
	secret, shown := a.inputSecrets(input)
	all := append(stringLeaves(values...), secret...)
	if len(shown) > 0 {
		all = slices.DeleteFunc(all, func(s string) bool { return slices.Contains(shown, s) && !slices.Contains(secret, s) })
	}
	return redact.New(all...)
}

// specInputSchemas are the schemas connection input of auth block a is
// checked against (see inputSchemas).
func specInputSchemas(c *spec.Connector, a *spec.Auth) []*spec.JSONSchema {
	ui := a.UI
	if ui == nil || ui.Schema == nil {
		ui = c.UI
	}
	schemas := []*spec.JSONSchema{a.InputSchema}
	if a.InputSchema == nil {
		schemas[0] = c.InputSchema
	}
	if ui != nil {
		schemas = append(schemas, ui.Schema)
	}
	return schemas
}
