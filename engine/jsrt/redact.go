package jsrt

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// redacted replaces a secret in logs and errors.
const redacted = "[REDACTED]"

// minSecretLen is the length below which a secret is not redacted.
const minSecretLen = 4

// redactor replaces every occurrence of a set of secrets. Overlapping and
// adjacent occurrences become one "[REDACTED]", so that no part of either
// secret is left.
type redactor struct {
	secrets []string
}

// newRedactor returns nil when no secret is long enough to redact.
func newRedactor(secrets []string) *redactor {
	seen := make(map[string]bool)
	var list []string
	add := func(s string) {
		if len(s) >= minSecretLen && !seen[s] {
			seen[s] = true
			list = append(list, s)
		}
	}
	for _, s := range secrets {
		if len(s) < minSecretLen {
			continue
		}
		add(s)
		// console prints objects as JSON, and methods often put credentials
		// into form bodies and query strings.
		add(jsonEscape(s))
		add(formEncode(s))
	}
	if len(list) == 0 {
		return nil
	}
	return &redactor{secrets: list}
}

func jsonEscape(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(s) != nil {
		return s
	}
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// String returns s with the secrets replaced. A nil redactor returns s.
func (rd *redactor) String(s string) string {
	if rd == nil || len(s) < minSecretLen {
		return s
	}
	type span struct{ start, end int }
	var spans []span
	for _, sec := range rd.secrets {
		for off := 0; ; {
			i := strings.Index(s[off:], sec)
			if i < 0 {
				break
			}
			spans = append(spans, span{off + i, off + i + len(sec)})
			off += i + 1
		}
	}
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var b strings.Builder
	last := 0
	for i := 0; i < len(spans); {
		start, end := spans[i].start, spans[i].end
		for i++; i < len(spans) && spans[i].start <= end; i++ {
			end = max(end, spans[i].end)
		}
		b.WriteString(s[last:start])
		b.WriteString(redacted)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// value returns x (a converted JavaScript value) with the secrets replaced
// in every string, map key included. It modifies maps and slices in place.
func (rd *redactor) value(x any) any {
	if rd == nil {
		return x
	}
	switch t := x.(type) {
	case string:
		return rd.String(t)
	case []any:
		for i, e := range t {
			t[i] = rd.value(e)
		}
	case map[string]any:
		var renamed []string
		for k, e := range t {
			t[k] = rd.value(e)
			if rd.String(k) != k {
				renamed = append(renamed, k)
			}
		}
		for _, k := range renamed {
			t[rd.String(k)] = t[k]
			delete(t, k)
		}
	}
	return x
}

// error redacts what an *Error tells about the method's data.
func (rd *redactor) error(e *Error) {
	if rd == nil {
		return
	}
	e.Name = rd.String(e.Name)
	e.Message = rd.String(e.Message)
	e.Key = rd.String(e.Key)
	e.Data = rd.value(e.Data)
}
