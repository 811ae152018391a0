package spec

import (
	"reflect"
	"strings"
	"testing"
)

func TestCoerceStrings(t *testing.T) {
	schema := &JSONSchema{Value: map[string]any{"properties": map[string]any{
		"isSandbox": map[string]any{"type": "boolean"},
		"limit":     map[string]any{"type": "integer"},
		"ratio":     map[string]any{"type": "number"},
		"scopes":    map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		"ports":     map[string]any{"type": "array", "items": map[string]any{"type": "integer"}},
		"extra":     map[string]any{"type": "object"},
		"apiKey":    map[string]any{"type": "string"},
		"either":    map[string]any{"type": []any{"string", "boolean"}},
	}}}
	values := map[string]any{
		"isSandbox": "true", "limit": "10", "ratio": "0.5", "scopes": "read, write", "ports": "[80, 443]",
		"extra": `{"a":1}`, "apiKey": "123", "either": "true", "undeclared": "true", "typed": true,
	}
	keys := []string{"isSandbox", "limit", "ratio", "scopes", "ports", "extra", "apiKey", "either", "undeclared"}
	if err := CoerceStrings(values, keys, nil, schema); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"isSandbox": true, "limit": float64(10), "ratio": 0.5, "scopes": []any{"read", "write"}, "ports": []any{float64(80), float64(443)},
		"extra": map[string]any{"a": float64(1)}, "apiKey": "123", "either": "true", "undeclared": "true", "typed": true,
	}
	if !reflect.DeepEqual(values, want) {
		t.Errorf("got %#v\nwant %#v", values, want)
	}
	for key, msg := range map[string]string{"isSandbox": "must be true or false", "limit": "must be a whole number", "ports": "an item must be a whole number", "extra": "must be a JSON object"} {
		err := CoerceStrings(map[string]any{key: "canary-secret"}, []string{key}, schema)
		if err == nil || !strings.Contains(err.Error(), key+": "+msg) || strings.Contains(err.Error(), "canary") {
			t.Errorf("%s: err = %v", key, err)
		}
	}
}
