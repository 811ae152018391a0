package engine

import (
	"maps"

	"github.com/connspec/connspec/spec"
)

// withDefaults returns values with the JSON Schema `default`s of the
// schemas filled in where a property is missing, nested objects included
// (integration.app applies them: a connector's scopes parameter may have
// only a default). values is not modified; a copy is made when a default
// is added.
func withDefaults(values map[string]any, schemas ...*spec.JSONSchema) map[string]any {
	for _, s := range schemas {
		if s != nil {
			values, _ = fillDefaults(values, s.Value, 0)
		}
	}
	return values
}

// fillDefaults reports whether it added anything; values is copied first.
func fillDefaults(values map[string]any, schema map[string]any, depth int) (map[string]any, bool) {
	props, _ := schema["properties"].(map[string]any)
	if len(props) == 0 || depth > 64 {
		return values, false
	}
	out := values
	copied := false
	set := func(k string, v any) {
		if !copied {
			out = maps.Clone(values)
			if out == nil {
				out = map[string]any{}
			}
			copied = true
		}
		out[k] = v
	}
	for name, p := range props {
		prop, _ := p.(map[string]any)
		if prop == nil {
			continue
		}
		cur, present := values[name]
		if !present {
			d, ok := prop["default"]
			if !ok {
				continue
			}
			cur = cloneValue(d)
			set(name, cur)
		}
		// An object, given or defaulted, gets its own properties' defaults.
		if sub, ok := cur.(map[string]any); ok {
			if filled, added := fillDefaults(sub, prop, depth+1); added {
				set(name, filled)
			}
		}
	}
	return out, copied
}

// cloneValue copies a default so no two connections share its maps.
func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = cloneValue(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = cloneValue(x)
		}
		return out
	}
	return v
}

// InputSchemas returns the schemas connection input of an auth option is
// validated against, and ParameterSchemas those of the connector
// parameters: what a caller needs to type text it read (a command line, a
// form) before handing it over.
func (c *Connector) InputSchemas(option string) ([]*spec.JSONSchema, error) {
	a, err := c.auth(option)
	if err != nil {
		return nil, err
	}
	return inputSchemas(c, a), nil
}

// ParameterSchemas: see InputSchemas.
func (c *Connector) ParameterSchemas(option string) ([]*spec.JSONSchema, error) {
	a, err := c.auth(option)
	if err != nil {
		return nil, err
	}
	return []*spec.JSONSchema{c.Spec.ParametersSchema, a.Spec.ParametersSchema}, nil
}
