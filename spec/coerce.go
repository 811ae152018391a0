package spec

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// CoerceStrings converts the string values of keys in values to the type
// the first schema that declares the property gives it: "true" for a
// boolean, "42" for a number or integer, a JSON array or comma-separated
// list for an array, a JSON object for an object. For text typed on a
// command line (key=value); values that are already typed, undeclared keys
// and string properties are left alone. An error names the key, never the
// value (it may be a secret).
func CoerceStrings(values map[string]any, keys []string, schemas ...*JSONSchema) error {
	for _, k := range keys {
		s, ok := values[k].(string)
		if !ok {
			continue
		}
		prop := declared(k, schemas)
		if prop == nil {
			continue
		}
		v, err := coerce(s, prop)
		if err != nil {
			return fmt.Errorf("%s: %s", k, err)
		}
		values[k] = v
	}
	return nil
}

// declared returns the property schema of name in the first schema that
// has one.
func declared(name string, schemas []*JSONSchema) map[string]any {
	for _, s := range schemas {
		if s == nil {
			continue
		}
		props, _ := s.Value["properties"].(map[string]any)
		if p, ok := props[name].(map[string]any); ok {
			return p
		}
	}
	return nil
}

func coerce(s string, prop map[string]any) (any, error) {
	types := schemaTypes(prop)
	if types["string"] || len(types) == 0 {
		return s, nil
	}
	switch {
	case types["boolean"]:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("must be true or false")
		}
		return b, nil
	case types["integer"]:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("must be a whole number")
		}
		return float64(n), nil
	case types["number"]:
		n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("must be a number")
		}
		return n, nil
	case types["array"]:
		if t := strings.TrimSpace(s); strings.HasPrefix(t, "[") {
			var list []any
			if err := json.Unmarshal([]byte(t), &list); err != nil {
				return nil, fmt.Errorf("must be a JSON array or a comma-separated list")
			}
			return list, nil
		}
		items, _ := prop["items"].(map[string]any)
		var list []any
		for _, part := range strings.Split(s, ",") {
			v, err := coerce(strings.TrimSpace(part), items)
			if err != nil {
				return nil, fmt.Errorf("an item %s", err)
			}
			list = append(list, v)
		}
		return list, nil
	case types["object"]:
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("must be a JSON object")
		}
		return m, nil
	}
	return s, nil
}

// schemaTypes lists a property's `type`, a name or a list of names.
func schemaTypes(prop map[string]any) map[string]bool {
	out := map[string]bool{}
	switch t := prop["type"].(type) {
	case string:
		out[t] = true
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok {
				out[s] = true
			}
		}
	}
	return out
}
