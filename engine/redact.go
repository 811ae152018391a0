package engine

import (
	"encoding/base64"

	"github.com/connspec/connspec/internal/redact"
)

// redactor is the shared redactor (internal/redact); the engine builds one
// from every string inside credentials, parameters and input.
type redactor = redact.Redactor

// newRedactor collects every string leaf of the given values as secrets.
func newRedactor(values ...any) *redactor { return redact.New(stringLeaves(values...)...) }

func basicAuthValue(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// stringLeaves lists every string inside values (maps and lists walked).
func stringLeaves(values ...any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			out = append(out, t)
		case map[string]any:
			for _, x := range t {
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	for _, v := range values {
		walk(v)
	}
	return out
}
