package engine

import (
	"encoding/base64"
	"slices"
	"strings"
)

// minSecretLen: shorter values (empty strings, "1", "us") are too common to
// redact without destroying the text around them.
const minSecretLen = 4

// redactor replaces known secret values in text with [REDACTED].
type redactor struct {
	secrets  []string
	replacer *strings.Replacer
}

// newRedactor collects every string leaf of the given values, and the Basic
// auth encodings of username:password pairs, as secrets.
func newRedactor(values ...any) *redactor {
	set := map[string]bool{}
	for _, s := range stringLeaves(values...) {
		if len(s) >= minSecretLen {
			set[s] = true
		}
	}
	r := &redactor{}
	for s := range set {
		r.secrets = append(r.secrets, s)
	}
	// Longest first, so a secret containing another is replaced whole.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(r.secrets))
	for _, s := range r.secrets {
		pairs = append(pairs, s, "[REDACTED]")
	}
	r.replacer = strings.NewReplacer(pairs...)
	return r
}

// with returns a redactor that also knows extra secrets.
func (r *redactor) with(extra ...string) *redactor {
	vals := make([]any, 0, len(r.secrets)+len(extra))
	for _, s := range r.secrets {
		vals = append(vals, s)
	}
	for _, s := range extra {
		vals = append(vals, s)
	}
	return newRedactor(vals...)
}

func (r *redactor) redact(s string) string {
	if r == nil || len(r.secrets) == 0 {
		return s
	}
	return r.replacer.Replace(s)
}

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
