package yamlvalue

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestScalar(t *testing.T) {
	cases := map[string]any{
		"~": nil, "null": nil, "true": true, "False": false, "42": int64(42), "0x1F": int64(31),
		"1.5": 1.5, "99999999999999999999": 1e20, ".inf": ".inf", ".nan": ".nan",
		"'42'": "42", "hello": "hello", "2024-01-02": "2024-01-02",
	}
	for src, want := range cases {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte("v: "+src), &doc); err != nil {
			t.Fatal(err)
		}
		if got := Scalar(doc.Content[0].Content[1]); got != want {
			t.Errorf("Scalar(%s) = %#v, want %#v", src, got, want)
		}
	}
}
