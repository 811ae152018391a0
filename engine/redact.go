package engine

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

// minSecretLen: shorter values (empty strings, "1", "us") are too common to
// redact without destroying the text around them.
const minSecretLen = 4

// redactor replaces known secret values in text with [REDACTED].
type redactor struct {
	// secrets are the values as given (what with and JavaScript's own
	// redaction start from); the replacer also knows their encoded forms.
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
	// A secret also travels escaped: in a query string or path (an API key
	// with '+', '/' or '=' in the URL of an HTTP error or of a transport
	// error) and in JSON (a provider's answer quoting it). Each of those
	// forms is replaced too.
	forms := map[string]bool{}
	for _, s := range r.secrets {
		for _, f := range []string{s, url.QueryEscape(s), url.PathEscape(s), jsonEscape(s)} {
			forms[f] = true
		}
	}
	all := make([]string, 0, len(forms))
	for f := range forms {
		all = append(all, f)
	}
	// Longest first, so a secret containing another is replaced whole.
	slices.SortFunc(all, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(all))
	for _, s := range all {
		pairs = append(pairs, s, "[REDACTED]")
	}
	r.replacer = strings.NewReplacer(pairs...)
	return r
}

// jsonEscape is s as it appears inside a JSON string (HTML characters left
// as they are).
func jsonEscape(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(s) != nil {
		return s
	}
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// with returns a redactor that also knows extra secrets (r may be nil).
func (r *redactor) with(extra ...string) *redactor {
	vals := make([]any, 0, len(extra)+8)
	if r != nil {
		for _, s := range r.secrets {
			vals = append(vals, s)
		}
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
